// f32 ↔ packed-f16 conversion throughput (what refreshing f16 weight copies from f32 masters costs
// per step), for a conv layer's weights and a transformer-sized tensor. `npx tsx bench/f16.ts`;
// writes bench/results/f16.json. TF.js has no f16 dtype, so there is nothing to set beside it.
import { writeFileSync } from 'node:fs';
import { randomArray } from '../test/helpers/random.ts';
import { timeDispatches } from './helpers/time.ts';
import { createGpu, f16Bytes, packToF16, storageBuffer, unpackFromF16, uploadBuffer } from 'webgrad';

const COUNTS = [{ name: 'conv2 weights', count: 18_432 }, { name: '1M values', count: 1 << 20 }, { name: '4M values', count: 1 << 22 }];

const gpu = await createGpu();
console.log(`webgrad: ${gpu.describe()}\nbest of several trials, ms per call; the machine is shared, so expect noise`);
const results = [];
for (const { name, count } of COUNTS) {
  const f32 = uploadBuffer(gpu, randomArray(count, 1, -100, 100), 'f32');
  const packed = storageBuffer(gpu, f16Bytes(count), 'packed');
  const packMs = await timeDispatches(gpu, packToF16(gpu, { input: f32, output: packed, count }));
  const unpackMs = await timeDispatches(gpu, unpackFromF16(gpu, { input: packed, output: f32, count }));
  // Bytes moved per call: 4 read + 2 written per value to pack, the reverse to unpack.
  const gbPerS = (ms: number) => +((6 * count) / ms / 1e6).toFixed(2);
  results.push({ name, count, packMs: +packMs.toFixed(3), unpackMs: +unpackMs.toFixed(3), packGBps: gbPerS(packMs), unpackGBps: gbPerS(unpackMs) });
  console.log(`  ${name.padEnd(14)} pack ${packMs.toFixed(3).padStart(8)} ms (${gbPerS(packMs)} GB/s)   unpack ${unpackMs.toFixed(3).padStart(8)} ms (${gbPerS(unpackMs)} GB/s)`);
  gpu.destroyBuffer(f32); gpu.destroyBuffer(packed);
}
const record = { adapter: gpu.describe(), command: 'npx tsx bench/f16.ts', date: new Date().toISOString(), results };
writeFileSync(new URL('./results/f16.json', import.meta.url), `${JSON.stringify(record, null, 2)}\n`);
gpu.destroy();
process.exit(0);
