// The generation loop: the prompt, then one sampled token at a time, each fed back as input, with a
// callback per token so callers can stream text as it appears.
import { checkSampling, sampleToken, type SamplingOptions } from './sampling.ts';
import type { NextTokenModel } from './next-token.ts';

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate after the prompt. */
  tokens: number;
  /** Called with each new token id and its index in the generation, before the next is computed. */
  onToken?: (id: number, index: number) => void | Promise<void>;
}

/** The `o.tokens` ids that follow `prompt` (which must hold at least one token). */
export async function generateTokens(model: NextTokenModel, prompt: Uint32Array, o: GenerateOptions): Promise<Uint32Array> {
  checkSampling('generateTokens', o);
  if (!(Number.isInteger(o.tokens) && o.tokens >= 0)) throw new Error(`generateTokens: tokens must be an integer ≥ 0, got ${o.tokens}`);
  if (prompt.length === 0) throw new Error('generateTokens: the prompt is empty; it needs at least one token to start from');
  const sequence = new Uint32Array(prompt.length + o.tokens);
  sequence.set(prompt);
  for (let i = 0; i < o.tokens; i++) {
    const length = prompt.length + i;
    const id = sampleToken(await model.next(sequence.subarray(0, length)), o, i);
    sequence[length] = id;
    await o.onToken?.(id, i);
  }
  return sequence.slice(prompt.length);
}
