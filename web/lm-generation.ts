// Text from a gpt, one character at a time: the page's single entry point for generation, so the
// decoder behind it can change without the worker noticing. It decodes with the library's KV cache
// (one row pass per character, as scripts/generate.ts does) and hands on each piece of text as soon
// as its characters are whole.
import { generateTokens, KvCacheDecoder, textStream, type Gpu, type ModelState, type Tokenizer } from 'webgrad';

export interface SamplingChoice {
  /** 0 always takes the most likely character. */
  temperature: number;
  /** 0: every character is a candidate. */
  topK: number;
  seed: number;
}

/** `characters` tokens after `prompt`, their text passed to `onText` as it is sampled. */
export async function generateText(gpu: Gpu, state: ModelState, tokenizer: Tokenizer, prompt: string,
  characters: number, o: SamplingChoice, onText: (text: string) => void): Promise<void> {
  const tokens = tokenizer.encode(prompt);
  if (tokens.length === 0) throw new Error('generate: the prompt is empty; type at least one character the model knows');
  const decoder = new KvCacheDecoder(gpu, state);
  const text = textStream(tokenizer);
  try {
    await generateTokens(decoder, tokens, {
      tokens: characters, temperature: o.temperature, seed: o.seed, ...(o.topK > 0 ? { topK: o.topK } : {}),
      onToken: (id) => { const piece = text.push(id); if (piece) onText(piece); },
    });
    const rest = text.end();
    if (rest) onText(rest);
  } finally {
    decoder.destroy();
  }
}
