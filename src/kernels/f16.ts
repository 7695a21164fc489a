// Conversions between f32 buffers and packed f16 buffers (two halves per u32, the layout of
// src/data/f16.ts), for keeping f32 master weights and refreshing their f16 copies each step.
import type { Gpu } from '../gpu/device.ts';
import { bindingBytes, grid1d, kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { entryInfo } from '../gpu/reflect.ts';

/** Bytes of a packed f16 buffer of `count` elements: whole u32 words, as bindings need. */
export function f16Bytes(count: number): number {
  return 4 * Math.ceil(count / 2);
}

export interface F16ConversionArgs { input: BufferRef; output: BufferRef; count: number; label?: string }

function checkBytes(op: string, field: 'input' | 'output', ref: BufferRef, needed: number): void {
  if (bindingBytes(ref) < needed) throw new Error(`${op}: ${field} binds ${bindingBytes(ref)} bytes; ${needed} are needed`);
}

function checkCount(op: string, count: number): void {
  if (!Number.isInteger(count) || count < 1) throw new Error(`${op}: count must be a positive integer, got ${count}`);
}

/** One invocation per packed word. */
function wordGrid(gpu: Gpu, entry: 'pack' | 'unpack', count: number) {
  return grid1d(gpu, Math.ceil(count / 2), entryInfo('f16', entry).workgroupSize[0]);
}

/** f32 `input` → packed f16 `output`, rounded to nearest even (bit for bit packF16). */
export function packToF16(gpu: Gpu, args: F16ConversionArgs): Dispatch[] {
  checkCount('packToF16', args.count);
  checkBytes('packToF16', 'input', args.input, 4 * args.count);
  checkBytes('packToF16', 'output', args.output, f16Bytes(args.count));
  return [kernel(gpu, 'f16', 'pack').dispatch({ f32_in: args.input, packed_out: args.output, params: { count: args.count } },
    wordGrid(gpu, 'pack', args.count), args.label ?? 'f16.pack')];
}

/** Packed f16 `input` → f32 `output`, exactly (bit for bit unpackF16). */
export function unpackFromF16(gpu: Gpu, args: F16ConversionArgs): Dispatch[] {
  checkCount('unpackFromF16', args.count);
  checkBytes('unpackFromF16', 'input', args.input, f16Bytes(args.count));
  checkBytes('unpackFromF16', 'output', args.output, 4 * args.count);
  return [kernel(gpu, 'f16', 'unpack').dispatch({ packed_in: args.input, f32_out: args.output, params: { count: args.count } },
    wordGrid(gpu, 'unpack', args.count), args.label ?? 'f16.unpack')];
}
