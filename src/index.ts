// webgrad's public API, the same in Node and in browsers. Node-only helpers (dataset files,
// checkpoint files, PNG folders) are in 'webgrad/node'.
export { createGpu, Gpu, DeviceLostError, NoAdapterError, type AdapterSummary, type GpuOptions } from './gpu/device.ts';
export { kernel, grid1d, encodeDispatches, Kernel, type Dispatch, type Workgroups, type BufferRef } from './gpu/kernel.ts';
export { storageBuffer, uploadBuffer, writeBuffer, readFloat32, readUint32, readInt32, readBytes, runDispatches } from './gpu/buffers.ts';

export { Layer, Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, ActivationLayer, ReLU, Sigmoid, Tanh, Softmax, Dropout, BatchNorm } from './graph/layers.ts';
export { SimpleRNN, LSTM } from './graph/recurrent.ts';
export { Sequential } from './graph/model.ts';
export { zooModel, ZOO_NAMES, type ZooOptions } from './graph/zoo.ts';
export { learningRate, SCHEDULES, type OptimizerConfig, type Schedule } from './graph/optim.ts';
export { ModelState, Trainer, Evaluator, NonFiniteLossError, type TrainerOptions, type Totals, type Evaluation } from './graph/runtime.ts';
export { fit, stepsPerEpoch, type FitOptions, type FitResult, type EpochResult, type BatchInfo } from './graph/fit.ts';
export { uploadDataset, destroyDataset, range } from './graph/dataset.ts';
export { predictLogits } from './graph/logits.ts';
export type { GpuDataset, Normalization, MemoryReport } from './graph/program.ts';

export { decodeIdx, decodeIdxSplit, type ImageSet } from './data/idx.ts';
export { epochPermutation, seededPermutation, splitValidation, takeSamples, pixelStats } from './data/split.ts';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.ts';
export { encodeCheckpoint, decodeCheckpoint, modelFromCheckpoint, restoreCheckpoint, loadMatchingWeights } from './io/checkpoint.ts';
export { confusionMatrix, classificationReport } from './report/metrics.ts';
