// A GPT-2-shaped decoder-only language model (pre-norm, causal), drawn from webgrad's layers with
// nanoGPT's state-dict names, so its weights line up with a nanoGPT checkpoint of the same sizes.
// The output projection is its own parameter unless tieWeights is set, which makes lm_head read
// transformer.wte's table as nanoGPT does (TiedDense).
import { checkBoolean, checkOptions, input } from '../layers/layer.ts';
import { Dense } from '../layers/layers.ts';
import { Embedding, PositionalEmbedding, TiedDense } from '../layers/tokens.ts';
import { LayerNorm, transformerBlock } from '../layers/transformer.ts';
import { Model } from './model.ts';

export interface GptOptions {
  vocab: number;
  /** Tokens per window (nanoGPT's block_size). */
  context: number;
  layers: number;
  heads: number;
  /** Embedding width (n_embd); a multiple of heads. */
  width: number;
  /**
   * lm_head uses transformer.wte's table (nanoGPT's weight tying): vocab × width fewer parameters,
   * one table learning from both ends. Default false.
   */
  tieWeights?: boolean;
}

/** u32 token ids [context] → next-token logits [context, vocab]. */
export function gptModel(o: GptOptions): Model {
  const fields = ['vocab', 'context', 'layers', 'heads', 'width'] as const;
  checkOptions('gptModel', o, [...fields, 'tieWeights']);
  checkBoolean('gptModel', 'tieWeights', o.tieWeights);
  for (const field of fields) {
    if (!Number.isInteger(o[field]) || o[field] < 1) throw new Error(`gptModel: ${field} must be a positive integer, got ${JSON.stringify(o[field])}`);
  }
  if (o.width % o.heads !== 0) throw new Error(`gptModel: width ${o.width} must be a multiple of heads ${o.heads}`);
  const ids = input([o.context], { dtype: 'u32', name: 'idx' });
  const wte = new Embedding({ vocab: o.vocab, width: o.width, name: 'transformer.wte' });
  let x = new PositionalEmbedding({ name: 'transformer.wpe' }).apply(wte.apply(ids));
  for (let i = 0; i < o.layers; i++) x = transformerBlock(x, { heads: o.heads, causal: true, name: `transformer.h.${i}` });
  const head = o.tieWeights ? new TiedDense({ tiedTo: wte, name: 'lm_head' }) : new Dense({ units: o.vocab, useBias: false, name: 'lm_head' });
  const logits = head.apply(new LayerNorm({ name: 'transformer.ln_f' }).apply(x));
  return new Model({ inputs: ids, outputs: logits });
}
