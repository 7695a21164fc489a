// Text from generated ids one token at a time, for printing as they arrive. A character token is
// its own text; a byte token may be part of a multi-byte UTF-8 character, so bytes are held back
// until the character is complete (TextDecoder's streaming mode) instead of printing U+FFFD.
import type { Tokenizer } from '../data/text.ts';

export interface TextStream {
  /** The text that token `id` completes (possibly empty). */
  push(id: number): string;
  /** Whatever is still held back, as U+FFFD for an unfinished character. */
  end(): string;
}

export function textStream(tokenizer: Tokenizer): TextStream {
  if (tokenizer.describe().kind !== 'byte') return { push: (id) => tokenizer.decode([id]), end: () => '' };
  const decoder = new TextDecoder();
  return {
    push: (id) => decoder.decode(Uint8Array.of(id), { stream: true }),
    end: () => decoder.decode(),
  };
}
