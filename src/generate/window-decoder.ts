// Next-token logits by recomputing the whole window with the model's full forward program (the
// Evaluator's, its logits read back whole) per token: the reference the KV-cache decoder is checked
// and measured against. The window sits in a token stream of context + 1 ids on the GPU, rewritten per token;
// ids past the window are padding the causal mask keeps from the rows that matter.
import type { Gpu } from '../gpu/device.ts';
import { writeBuffer } from '../gpu/buffers.ts';
import type { GpuTokenDataset } from '../compiler/program.ts';
import { gptOptionsOf } from '../model/gpt-options.ts';
import type { GptOptions } from '../model/gpt.ts';
import { destroyDataset, uploadTokens } from '../runtime/dataset.ts';
import { Evaluator, type ModelState } from '../runtime/runtime.ts';
import { checkTokens, lastWindow, type NextTokenModel } from './next-token.ts';

export class FullWindowDecoder implements NextTokenModel {
  readonly options: GptOptions;
  private readonly data: GpuTokenDataset;
  private readonly evaluator: Evaluator;
  private readonly first = Uint32Array.of(0);

  constructor(readonly gpu: Gpu, readonly state: ModelState) {
    this.options = gptOptionsOf(state.model, 'FullWindowDecoder');
    const { vocab, context } = this.options;
    this.data = uploadTokens(gpu, new Uint32Array(context + 1), { vocab, context, name: 'decoder.window' });
    this.evaluator = new Evaluator(gpu, state.model, state, this.data, 1);
  }

  async next(tokens: Uint32Array): Promise<Float32Array> {
    const { vocab, context } = this.options;
    checkTokens('FullWindowDecoder', tokens, vocab);
    const visible = lastWindow(tokens, context);
    const stream = new Uint32Array(context + 1);
    stream.set(visible);
    writeBuffer(this.gpu, this.data.tokens, stream);
    const rows = await this.evaluator.logits(this.first);
    return rows.slice((visible.length - 1) * vocab, visible.length * vocab);
  }

  destroy(): void {
    this.evaluator.destroy();
    destroyDataset(this.gpu, this.data);
  }
}
