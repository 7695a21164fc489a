// Splitting a dataset field into shards: GPU buffers of whole samples, each within what one storage
// binding (and one buffer) may hold on this device, so a dataset may be larger than one binding.
// The gathers record one dispatch per shard; a field that fits one buffer stays one shard.
import type { Gpu } from '../gpu/device.ts';
import { uploadBuffer } from '../gpu/buffers.ts';
import { packBytes, type SampleShards } from '../kernels/gather.ts';

/** Each shard costs every step one more gather dispatch over the whole batch, so a field has at most this many. */
export const MAX_SHARDS = 8;

export interface UploadOptions {
  /**
   * The most bytes one shard may hold, below the device's own binding limit: for tests (shards on
   * tiny data) and for adapters that report limits larger than they can bind.
   */
  maxShardBytes?: number;
}

/** The bytes one shard may hold here: the device's binding and buffer limits, or less when asked. */
export function shardByteLimit(gpu: Gpu, o: UploadOptions = {}): number {
  const device = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  if (o.maxShardBytes === undefined) return device;
  if (!Number.isInteger(o.maxShardBytes) || o.maxShardBytes < 4) throw new Error(`maxShardBytes must be an integer of at least 4, got ${o.maxShardBytes}`);
  return Math.min(device, o.maxShardBytes);
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const paddedBytes = (bytes: number) => Math.max(4, Math.ceil(bytes / 4) * 4);

/**
 * How many samples each shard holds for fields sharded alike (an image set's pixels and labels),
 * given each field's bytes per sample: all of them when every field fits one buffer, else as many
 * as the tightest field allows, rounded so every shard but the last is whole 4-byte words.
 */
export function samplesPerShard(who: string, count: number, sampleBytes: Readonly<Record<string, number>>, limit: number): number {
  const fields = Object.entries(sampleBytes);
  if (fields.every(([, bytes]) => paddedBytes(count * bytes) <= limit)) return count;
  const words = Math.max(...fields.map(([, bytes]) => 4 / gcd(bytes, 4)));
  let perShard = Math.min(...fields.map(([, bytes]) => Math.floor(limit / bytes)));
  perShard -= perShard % words;
  const [largest, bytes] = fields.reduce((a, b) => (b[1] > a[1] ? b : a));
  if (perShard < 1) throw new Error(`${who}: one sample of ${largest} is ${bytes} bytes, which does not fit a shard of at most ${limit} bytes (this device's storage binding limit, or maxShardBytes)`);
  const shards = Math.ceil(count / perShard);
  if (shards > MAX_SHARDS) {
    throw new Error(`${who}: ${largest} holds ${count * bytes} bytes (${count} samples of ${bytes}), which needs ${shards} shards of at most ${limit} bytes (this device's storage binding limit, or maxShardBytes); a field may have at most ${MAX_SHARDS} shards, ${MAX_SHARDS * perShard * bytes} bytes here`);
  }
  return perShard;
}

/** Uploads `count` samples of `data` as shards of `perShard` samples each (u8 packed 4 per word). */
export function uploadShards(gpu: Gpu, data: Uint8Array | Float32Array | Uint32Array, count: number, perShard: number, label: string): SampleShards<GPUBuffer> {
  const valuesPerSample = data.length / count;
  const shards = Math.ceil(count / perShard);
  const buffers = Array.from({ length: shards }, (_, k) => {
    const part = data.subarray(k * perShard * valuesPerSample, Math.min(count, (k + 1) * perShard) * valuesPerSample);
    return uploadBuffer(gpu, part instanceof Uint8Array ? packBytes(part) : part, shards > 1 ? `${label}[${k}]` : label);
  });
  return { buffers, samplesPerShard: perShard };
}
