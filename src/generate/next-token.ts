// What text generation needs from a language model: the logits of the token after a sequence. The
// KV-cache decoder and the full-window recomputation both provide it, so the sampling loop and the
// comparisons between them run the same code.
import type { GptOptions } from '../model/gpt.ts';

export interface NextTokenModel {
  readonly options: GptOptions;
  /** Logits (vocab floats) of the token that follows `tokens`, conditioned on the last `context` of them. */
  next(tokens: Uint32Array): Promise<Float32Array>;
  destroy(): void;
}

/** A sequence the model can read: at least one token, every id inside the vocabulary. */
export function checkTokens(who: string, tokens: Uint32Array, vocab: number): void {
  if (tokens.length === 0) throw new Error(`${who}: needs at least one token to predict the next from`);
  const outside = tokens.findIndex((id) => id >= vocab);
  if (outside >= 0) throw new Error(`${who}: token ${tokens[outside]} at position ${outside} is outside the vocabulary 0..${vocab - 1}`);
}

/** The last `context` tokens: what the model sees once a sequence outgrows its window (nanoGPT's crop). */
export function lastWindow(tokens: Uint32Array, context: number): Uint32Array {
  return tokens.subarray(Math.max(0, tokens.length - context));
}
