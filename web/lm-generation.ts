// Text from a gpt, one character at a time: the page's single entry point for generation, so the
// decoder behind it can change without the worker noticing. This one recomputes the whole window
// per token through the Evaluator (the forward program training evaluates with): the last `context`
// ids sit in a token stream on the GPU, rewritten per token, and only the last row's logits count.
import { destroyDataset, Evaluator, uploadTokens, writeBuffer, type Gpu, type ModelState, type Tokenizer } from 'webgrad';

export interface SamplingChoice {
  /** 0 always takes the most likely character. */
  temperature: number;
  /** 0: every character is a candidate. */
  topK: number;
  seed: number;
}

/** Index of the draw from softmax(logits / temperature) over the top-k logits, with u ∈ [0, 1). */
export function pickToken(logits: Float32Array, o: SamplingChoice, u: number): number {
  const order = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const candidates = o.topK > 0 ? order.slice(0, o.topK) : order;
  if (o.temperature === 0) return candidates[0]!;
  const top = logits[candidates[0]!]!;
  const weights = candidates.map((id) => Math.exp((logits[id]! - top) / o.temperature));
  let remaining = u * weights.reduce((sum, w) => sum + w, 0);
  for (let i = 0; i < candidates.length; i++) {
    remaining -= weights[i]!;
    if (remaining < 0) return candidates[i]!;
  }
  return candidates.at(-1)!;
}

/** A seeded uniform stream (mulberry32), so a seed repeats its text. */
function uniforms(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `characters` characters after `prompt`, each passed to `onText` as it is sampled. */
export async function generateText(gpu: Gpu, state: ModelState, tokenizer: Tokenizer, context: number, prompt: string,
  characters: number, o: SamplingChoice, onText: (text: string) => void): Promise<void> {
  const tokens = Array.from(tokenizer.encode(prompt));
  if (tokens.length === 0) throw new Error('generate: the prompt is empty; type at least one character the model knows');
  const vocab = tokenizer.vocab;
  const data = uploadTokens(gpu, new Uint32Array(context + 1), { vocab, context, name: 'lm.window' });
  const evaluator = new Evaluator(gpu, state.model, state, data, 1);
  const next = uniforms(o.seed);
  try {
    for (let i = 0; i < characters; i++) {
      const visible = tokens.slice(-context);
      const stream = new Uint32Array(context + 1);
      stream.set(visible);
      writeBuffer(gpu, data.tokens, stream);
      const rows = await evaluator.logits(Uint32Array.of(0));
      const id = pickToken(rows.subarray((visible.length - 1) * vocab, visible.length * vocab), o, next());
      tokens.push(id);
      onText(tokenizer.decode(Uint32Array.of(id)));
    }
  } finally {
    evaluator.destroy();
    destroyDataset(gpu, data);
  }
}
