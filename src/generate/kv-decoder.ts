// Incremental decoding of a gpt with each layer's keys and values cached on the GPU: a new token runs
// one row through the network (embedding + position, per layer ln_1 → c_attn → its k and v written
// into the cache → attention over the cached keys → c_proj + residual → ln_2 → MLP + residual, then
// ln_f → lm_head) and reads back only its logits. Every buffer, bind group and pipeline is made
// once; per token the decoder writes the id and its position into small buffers and submits once.
//
// A prompt (or a rebuilt window) runs as one pass of `context` rows through the same kernels, its
// rows' keys and values written into the cache at positions 0..context-1 and each row attending to
// the rows before it. Rows past the prompt are padding: they write cache slots no query reads before
// a later token overwrites them. Once the sequence is longer than the context, the window slides
// (as nanoGPT crops to the last block_size tokens), which moves every token to another learned
// position, so the cached keys no longer hold: each such token rebuilds the cache from the window.
import type { Gpu } from '../gpu/device.ts';
import { encodeDispatches, type Dispatch } from '../gpu/kernel.ts';
import { storageBuffer, writeBuffer } from '../gpu/buffers.ts';
import { appendKeyValue, attentionDecode, decodeCacheFloats, type DecodeShape } from '../kernels/attention_decode.ts';
import { binaryOp } from '../kernels/elementwise.ts';
import { embeddingForward } from '../kernels/embedding.ts';
import { geluForward } from '../kernels/gelu.ts';
import { gemm } from '../kernels/gemm.ts';
import { layerNormForward } from '../kernels/layernorm.ts';
import { gptOptionsOf } from '../model/gpt-options.ts';
import type { GptOptions } from '../model/gpt.ts';
import type { ModelState } from '../runtime/runtime.ts';
import { checkTokens, lastWindow, type NextTokenModel } from './next-token.ts';

/** The recorded forward of `rows` token rows at the positions held in `positions`. */
interface Pass {
  rows: number;
  /** u32[rows] token ids and their positions, written before each submit. */
  ids: GPUBuffer;
  positions: GPUBuffer;
  /** [rows, vocab]. */
  logits: GPUBuffer;
  dispatches: Dispatch[];
  owned: GPUBuffer[];
}

interface LayerCache { k: GPUBuffer; v: GPUBuffer }

function recordPass(gpu: Gpu, state: ModelState, o: GptOptions, caches: readonly LayerCache[], rows: number): Pass {
  const { width, vocab } = o;
  const owned: GPUBuffer[] = [];
  const floats = (count: number, label: string) => {
    const buffer = storageBuffer(gpu, count * 4, `decoder.${rows}.${label}`);
    owned.push(buffer);
    return buffer;
  };
  const weight = (name: string) => {
    const buffer = state.buffers.get(name);
    if (!buffer) throw new Error(`KvCacheDecoder: the model state has no tensor ${name}`);
    return buffer;
  };
  const ids = floats(rows, 'ids'), positions = floats(rows, 'positions');
  const tokenRows = floats(rows * width, 'wte'), positionRows = floats(rows * width, 'wpe');
  const x = floats(rows * width, 'residual'), normed = floats(rows * width, 'normed');
  const mean = floats(rows, 'mean'), rstd = floats(rows, 'rstd');
  const qkv = floats(rows * 3 * width, 'qkv'), attended = floats(rows * width, 'attended');
  const hidden = floats(rows * 4 * width, 'hidden'), activated = floats(rows * 4 * width, 'activated');
  const logits = floats(rows * vocab, 'logits');

  const layerNorm = (prefix: string) => layerNormForward(gpu, { rows, cols: width }, { x, gamma: weight(`${prefix}.weight`), beta: weight(`${prefix}.bias`), y: normed, mean, rstd });
  // A Dense layer on every row; `residual` adds the product into x (beta = 1) instead of overwriting it.
  const dense = (prefix: string, a: GPUBuffer, c: GPUBuffer, n: number, k: number, o: { bias?: boolean; residual?: boolean; table?: string } = {}) => gemm(gpu, {
    a, b: weight(o.table ?? `${prefix}.weight`), c, m: rows, n, k, transB: true,
    ...(o.bias === false ? {} : { bias: weight(`${prefix}.bias`), biasAxis: 'n' as const }),
    ...(o.residual ? { beta: 1 } : {}), label: `decoder.${prefix}`,
  });
  const decode: DecodeShape = { heads: o.heads, headDim: width / o.heads, context: o.context, rows };

  const dispatches: Dispatch[] = [
    ...embeddingForward(gpu, { tokens: rows, vocab, width }, { ids, table: weight('transformer.wte.weight'), out: tokenRows }),
    ...embeddingForward(gpu, { tokens: rows, vocab: o.context, width }, { ids: positions, table: weight('transformer.wpe.weight'), out: positionRows }),
    ...binaryOp(gpu, { op: 'add', a: tokenRows, b: positionRows, out: x, aShape: [rows, width], bShape: [rows, width] }),
  ];
  caches.forEach((cache, i) => {
    const block = `transformer.h.${i}`;
    const cacheIo = { positions, qkv, kCache: cache.k, vCache: cache.v };
    dispatches.push(
      ...layerNorm(`${block}.ln_1`),
      ...dense(`${block}.attn.c_attn`, normed, qkv, 3 * width, width),
      ...appendKeyValue(gpu, decode, cacheIo),
      ...attentionDecode(gpu, decode, { ...cacheIo, out: attended }),
      ...dense(`${block}.attn.c_proj`, attended, x, width, width, { residual: true }),
      ...layerNorm(`${block}.ln_2`),
      ...dense(`${block}.mlp.c_fc`, normed, hidden, 4 * width, width),
      ...geluForward(gpu, { x: hidden, y: activated, count: rows * 4 * width }),
      ...dense(`${block}.mlp.c_proj`, activated, x, width, 4 * width, { residual: true }),
    );
  });
  // A tied lm_head reads the token table, which has a Dense weight's [vocab, width] layout.
  const head = o.tieWeights ? { table: 'transformer.wte.weight' } : {};
  dispatches.push(...layerNorm('transformer.ln_f'), ...dense('lm_head', normed, logits, vocab, width, { bias: false, ...head }));
  return { rows, ids, positions, logits, dispatches, owned };
}

/** A gpt's next-token logits from a key/value cache on the GPU: one submit and one readback of vocab floats per token. */
export class KvCacheDecoder implements NextTokenModel {
  readonly options: GptOptions;
  /** Queue submissions so far: one per call to next(). */
  submits = 0;
  /** Calls that rebuilt the cache from the whole window (the prompt, and every token once the window slides). */
  rebuilds = 0;
  private readonly caches: LayerCache[];
  private readonly step: Pass;
  private readonly window: Pass;
  private readonly staging: GPUBuffer;
  /** The tokens whose keys and values the cache holds, at positions 0, 1, … */
  private cached: Uint32Array = new Uint32Array(0);

  constructor(readonly gpu: Gpu, readonly state: ModelState) {
    this.options = gptOptionsOf(state.model, 'KvCacheDecoder');
    const o = this.options;
    const cacheFloats = decodeCacheFloats({ heads: o.heads, headDim: o.width / o.heads, context: o.context });
    this.caches = Array.from({ length: o.layers }, (_, i) => ({
      k: storageBuffer(gpu, cacheFloats * 4, `decoder.h.${i}.k`), v: storageBuffer(gpu, cacheFloats * 4, `decoder.h.${i}.v`),
    }));
    this.step = recordPass(gpu, state, o, this.caches, 1);
    this.window = recordPass(gpu, state, o, this.caches, o.context);
    writeBuffer(gpu, this.window.positions, Uint32Array.from({ length: o.context }, (_, t) => t));
    this.staging = gpu.createBuffer({ label: 'decoder.logits.staging', size: o.vocab * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  async next(tokens: Uint32Array): Promise<Float32Array> {
    this.gpu.check();
    checkTokens('KvCacheDecoder', tokens, this.options.vocab);
    const visible = lastWindow(tokens, this.options.context);
    const last = visible.length - 1;
    const extendsCache = last === this.cached.length && this.cached.every((id, t) => id === visible[t]);
    let logits: Promise<Float32Array>;
    if (extendsCache) {
      writeBuffer(this.gpu, this.step.ids, visible.subarray(last));
      writeBuffer(this.gpu, this.step.positions, Uint32Array.of(last));
      logits = this.run(this.step, 0);
    } else {
      const padded = new Uint32Array(this.options.context);
      padded.set(visible);
      writeBuffer(this.gpu, this.window.ids, padded);
      logits = this.run(this.window, last);
      this.rebuilds++;
    }
    // Until the pass has run, the cache holds nothing a later call may extend.
    this.cached = new Uint32Array(0);
    const result = await logits;
    this.cached = visible.slice();
    return result;
  }

  /** One submit of the pass, then row `row` of its logits read back. */
  private async run(pass: Pass, row: number): Promise<Float32Array> {
    const { gpu } = this;
    const bytes = this.options.vocab * 4;
    const encoder = gpu.device.createCommandEncoder({ label: `decode ${pass.rows} rows` });
    encodeDispatches(encoder, pass.dispatches, 'decode');
    encoder.copyBufferToBuffer(pass.logits, row * bytes, this.staging, 0, bytes);
    gpu.device.queue.submit([encoder.finish()]);
    this.submits++;
    await gpu.guard(this.staging.mapAsync(GPUMapMode.READ));
    try {
      return new Float32Array(this.staging.getMappedRange().slice(0));
    } finally {
      this.staging.unmap();
    }
  }

  destroy(): void {
    for (const b of [...this.step.owned, ...this.window.owned, ...this.caches.flatMap((c) => [c.k, c.v]), this.staging]) this.gpu.destroyBuffer(b);
  }
}
