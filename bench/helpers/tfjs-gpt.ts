// The gpt of src/model/gpt.ts written in TensorFlow.js ops, for bench/train-lm.ts to train on TF.js's
// WebGPU backend: token and position embeddings (gather), pre-norm blocks of layer norm, one fused
// q·k·v matmul, causal softmax attention, GELU (tanh form) MLP, a final norm and an untied head,
// with the mean next-token cross-entropy, trained by tf.train.adam on variable gradients.
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Tf } from '../tfjs.ts';

export interface TfjsGptSizes { vocab: number; context: number; layers: number; heads: number; width: number }

export interface TfjsGpt {
  /** One training step on ids x and targets y, both [batch·context] int32; resolves to the loss. */
  step(x: Int32Array, y: Int32Array, batch: number): Promise<number>;
  dispose(): void;
}

export function tfjsGpt(tf: Tf, sizes: TfjsGptSizes, lr: number): TfjsGpt {
  const { vocab, context: T, layers, heads: H, width: C } = sizes;
  const D = C / H;
  const variables: TfCore.Variable[] = [];
  // GPT-2's initialisation: weights N(0, 0.02), biases 0, norms' gains 1.
  const weight = (shape: number[]) => { const v = tf.variable(tf.randomNormal(shape, 0, 0.02, 'float32', variables.length + 1)); variables.push(v); return v; };
  const constant = (shape: number[], value: number) => { const v = tf.variable(tf.fill(shape, value)); variables.push(v); return v; };
  const norm = () => ({ gain: constant([C], 1), bias: constant([C], 0) });
  const wte = weight([vocab, C]), wpe = weight([T, C]);
  const blocks = Array.from({ length: layers }, () => ({
    ln1: norm(), attn: weight([C, 3 * C]), attnBias: constant([3 * C], 0), proj: weight([C, C]), projBias: constant([C], 0),
    ln2: norm(), fc: weight([C, 4 * C]), fcBias: constant([4 * C], 0), fcProj: weight([4 * C, C]), fcProjBias: constant([C], 0),
  }));
  const lnf = norm(), head = weight([C, vocab]);
  const future = tf.tensor2d(Float32Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? 1 : 0)), [T, T]).cast('bool');
  const optimizer = tf.train.adam(lr);

  const layerNorm = (x: TfCore.Tensor2D, p: { gain: TfCore.Variable; bias: TfCore.Variable }) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), p.gain), p.bias) as TfCore.Tensor2D;
  };
  const gelu = (x: TfCore.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
  /** [batch·T, C] rows → [batch·H, T, D] heads. */
  const toHeads = (x: TfCore.Tensor, batch: number) => tf.reshape(tf.transpose(tf.reshape(x, [batch, T, H, D]), [0, 2, 1, 3]), [batch * H, T, D]) as TfCore.Tensor3D;
  const attention = (x: TfCore.Tensor2D, b: (typeof blocks)[number], batch: number) => {
    const [q, k, v] = tf.split(tf.add(tf.matMul(x, b.attn), b.attnBias), 3, 1).map((t) => toHeads(t, batch)) as [TfCore.Tensor3D, TfCore.Tensor3D, TfCore.Tensor3D];
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D));
    const masked = tf.where(future, tf.fill(scores.shape, -1e9), scores);
    const attended = tf.matMul(tf.softmax(masked), v);
    const rows = tf.reshape(tf.transpose(tf.reshape(attended, [batch, H, T, D]), [0, 2, 1, 3]), [batch * T, C]) as TfCore.Tensor2D;
    return tf.add(tf.matMul(rows, b.proj), b.projBias) as TfCore.Tensor2D;
  };
  const loss = (x: TfCore.Tensor1D, y: TfCore.Tensor1D, batch: number) => {
    const positions = tf.tile(wpe, [batch, 1]);
    let h = tf.add(tf.gather(wte, x), positions) as TfCore.Tensor2D;
    for (const b of blocks) {
      h = tf.add(h, attention(layerNorm(h, b.ln1), b, batch));
      const hidden = gelu(tf.add(tf.matMul(layerNorm(h, b.ln2), b.fc), b.fcBias)) as TfCore.Tensor2D;
      h = tf.add(h, tf.add(tf.matMul(hidden, b.fcProj), b.fcProjBias));
    }
    const logits = tf.matMul(layerNorm(h, lnf), head);
    return tf.losses.softmaxCrossEntropy(tf.oneHot(y, vocab), logits) as TfCore.Scalar;
  };

  return {
    async step(x, y, batch) {
      const ids = tf.tensor1d(x, 'int32'), targets = tf.tensor1d(y, 'int32');
      const value = optimizer.minimize(() => loss(ids, targets, batch), true, variables)!;
      const [result] = await value.data();
      tf.dispose([ids, targets, value]);
      return result!;
    },
    dispose() { tf.dispose([...variables, future]); optimizer.dispose(); },
  };
}
