export { createGpu, Gpu, DeviceLostError, NoAdapterError, type AdapterSummary, type GpuOptions } from './gpu/device.ts';
export { kernel, grid1d, encodeDispatches, Kernel, type Dispatch, type Workgroups } from './gpu/kernel.ts';
export { storageBuffer, uploadBuffer, writeBuffer, readFloat32, readUint32, readInt32, readBytes, runDispatches } from './gpu/buffers.ts';
