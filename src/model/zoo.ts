// The networks of the classic Keras and PyTorch MNIST tutorials, by name, for 1×28×28 inputs, and a
// small residual network drawn as a graph.
import { AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU } from '../layers/layers.ts';
import { input, type Layer, type SymbolicTensor } from '../layers/layer.ts';
import { add, reshape, slice, transpose } from '../layers/ops.ts';
import { ClassToken, PositionalEmbedding } from '../layers/tokens.ts';
import { LayerNorm, transformerBlock } from '../layers/transformer.ts';
import { Model, Sequential } from './model.ts';
import { LSTM, SimpleRNN } from '../layers/recurrent.ts';

export interface ZooOptions {
  classes?: number;
  /** Dropout rate before the classifier (models that have one); 0 removes it. */
  dropout?: number;
  inputShape?: readonly [number, number, number];
}

type Settings = Required<Pick<ZooOptions, 'classes' | 'dropout'>>;
/** A chain of layers, or a graph drawn from the input tensor. */
type Builder = (o: Settings) => Layer[] | ((x: SymbolicTensor) => SymbolicTensor);

const maybeDropout = (rate: number): Layer[] => (rate > 0 ? [new Dropout(rate)] : []);

/** conv → batch norm (→ ReLU): the unit residual networks are made of. */
function convBn(x: SymbolicTensor, filters: number, kernelSize: number, stride: number, relu: boolean): SymbolicTensor {
  const padding = (kernelSize - 1) / 2;
  const y = new BatchNorm().apply(new Conv2D({ filters, kernelSize, strides: stride, padding, useBias: false }).apply(x));
  return relu ? ReLU().apply(y) : y;
}

/** He et al.'s basic block: two 3×3 convolutions and a shortcut (1×1 convolution where the shape changes). */
function residualBlock(x: SymbolicTensor, filters: number, stride: number): SymbolicTensor {
  const body = convBn(convBn(x, filters, 3, stride, true), filters, 3, 1, false);
  const shortcut = stride === 1 && x.shape[0] === filters ? x : convBn(x, filters, 1, stride, false);
  return ReLU().apply(add(body, shortcut));
}

/** ViT: `stem` 3×3 stride-2 convolutions (filters each), then non-overlapping patches as tokens, a class token and learned positions, pre-norm blocks, a head on the class token. */
function visionTransformer(o: { classes: number; patch: number; width: number; blocks: number; heads: number; stem?: number[] }): (x: SymbolicTensor) => SymbolicTensor {
  return (x) => {
    let stemmed = x;
    for (const filters of o.stem ?? []) stemmed = ReLU().apply(new Conv2D({ filters, kernelSize: 3, strides: 2, padding: 1 }).apply(stemmed));
    const patches = new Conv2D({ filters: o.width, kernelSize: o.patch, strides: o.patch }).apply(stemmed);
    const [, rows, cols] = patches.shape as [number, number, number];
    let tokens = new PositionalEmbedding().apply(new ClassToken().apply(transpose(reshape(patches, [o.width, rows * cols]))));
    // Attention reads the fused q, k, v rows in place: no split, no permutes (the weights are the same either way).
    for (let b = 0; b < o.blocks; b++) tokens = transformerBlock(tokens, { heads: o.heads, layout: 'tokens' });
    const classToken = reshape(slice(new LayerNorm().apply(tokens), 0, 0, 1), [o.width]);
    return new Dense({ units: o.classes }).apply(classToken);
  };
}

const ZOO: Record<string, { about: string; dropout: number; build: Builder }> = {
  mlp: {
    about: '784-64-10 ReLU (Keras beginner tutorial)', dropout: 0,
    build: ({ classes, dropout }) => [new Flatten(), new Dense({ units: 64, activation: 'relu' }), ...maybeDropout(dropout), new Dense({ units: classes })],
  },
  mlp2: {
    about: '784-100-100-10 ReLU', dropout: 0,
    build: ({ classes, dropout }) => [new Flatten(), new Dense({ units: 100, activation: 'relu' }), new Dense({ units: 100, activation: 'relu' }), ...maybeDropout(dropout), new Dense({ units: classes })],
  },
  cnn: {
    about: 'Conv 32@3×3 → MaxPool → Conv 64@3×3 → MaxPool → Dense (Keras "simple MNIST convnet"; the default)', dropout: 0.25,
    build: ({ classes, dropout }) => [
      new Conv2D({ filters: 32, kernelSize: 3, activation: 'relu' }), new MaxPool2D(),
      new Conv2D({ filters: 64, kernelSize: 3, activation: 'relu' }), new MaxPool2D(),
      new Flatten(), ...maybeDropout(dropout), new Dense({ units: classes }),
    ],
  },
  lenet: {
    about: 'PyTorch tutorial LeNet: Conv 10@5×5 → Conv 20@5×5 → 320-50-10', dropout: 0,
    build: ({ classes, dropout }) => [
      new Conv2D({ filters: 10, kernelSize: 5 }), new MaxPool2D(), ReLU(),
      new Conv2D({ filters: 20, kernelSize: 5 }), new MaxPool2D(), ReLU(),
      new Flatten(), new Dense({ units: 50, activation: 'relu' }), ...maybeDropout(dropout), new Dense({ units: classes }),
    ],
  },
  cnn3: {
    about: 'TensorFlow CNN tutorial: Conv 32 → Pool → Conv 64 → Pool → Conv 64 → Dense 64 → Dense', dropout: 0,
    build: ({ classes, dropout }) => [
      new Conv2D({ filters: 32, kernelSize: 3, activation: 'relu' }), new MaxPool2D(),
      new Conv2D({ filters: 64, kernelSize: 3, activation: 'relu' }), new MaxPool2D(),
      new Conv2D({ filters: 64, kernelSize: 3, activation: 'relu' }),
      new Flatten(), new Dense({ units: 64, activation: 'relu' }), ...maybeDropout(dropout), new Dense({ units: classes }),
    ],
  },
  'cnn-dense': {
    about: 'Conv 32@3×3 → MaxPool → Dense 128 → Dense', dropout: 0,
    build: ({ classes, dropout }) => [
      new Conv2D({ filters: 32, kernelSize: 3, activation: 'relu' }), new MaxPool2D(),
      new Flatten(), new Dense({ units: 128, activation: 'relu' }), ...maybeDropout(dropout), new Dense({ units: classes }),
    ],
  },
  'cnn-bn': {
    about: 'stronger: three conv blocks with batch norm, dropout, Dense 128 with batch norm (for ≥ 99.5% with --augment)', dropout: 0.4,
    build: ({ classes, dropout }) => [
      new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', useBias: false }), new BatchNorm(), ReLU(), new MaxPool2D(),
      new Conv2D({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }), new BatchNorm(), ReLU(), new MaxPool2D(),
      new Conv2D({ filters: 64, kernelSize: 3, useBias: false }), new BatchNorm(), ReLU(),
      new Flatten(), new Dense({ units: 128, useBias: false }), new BatchNorm(), ReLU(), ...maybeDropout(dropout), new Dense({ units: classes }),
    ],
  },
  fast: {
    about: 'for time to 99%: Conv 16 → Pool → Conv 32 → Pool → Conv 64 → Pool, each 3×3 with batch norm, → Dense from 576 (few channels at full size, no hidden dense layer)', dropout: 0,
    build: ({ classes, dropout }) => [
      new Conv2D({ filters: 16, kernelSize: 3, padding: 'same', useBias: false }), new BatchNorm(), ReLU(), new MaxPool2D(),
      new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', useBias: false }), new BatchNorm(), ReLU(), new MaxPool2D(),
      new Conv2D({ filters: 64, kernelSize: 3, padding: 'same', useBias: false }), new BatchNorm(), ReLU(), new MaxPool2D(),
      new Flatten(), ...maybeDropout(dropout), new Dense({ units: classes }),
    ],
  },
  resnet: {
    about: 'small ResNet: Conv 16 → residual blocks 16, 32/2, 64/2 with batch norm → global average pool → Dense', dropout: 0,
    build: ({ classes, dropout }) => (x) => {
      let y = convBn(x, 16, 3, 1, true);
      y = residualBlock(y, 16, 1);
      y = residualBlock(y, 32, 2);
      y = residualBlock(y, 64, 2);
      const [, height, width] = y.shape as [number, number, number];
      y = new Flatten().apply(new AvgPool2D({ poolSize: [height, width] }).apply(y));
      for (const layer of maybeDropout(dropout)) y = layer.apply(y);
      return new Dense({ units: classes }).apply(y);
    },
  },
  vit: {
    about: 'Vision Transformer with a convolutional stem (Xiao et al. 2021): three 3×3 stride-2 convolutions with ReLU (16, 32, 64 filters) → 4×4 = 16 tokens, a 1×1 projection, class token + positions → 4 pre-norm blocks of 4 heads, 64 wide → LayerNorm → Dense on the class token. In short runs the stem learned much faster than 4×4 or 7×7 patches (README, "ViT on MNIST"), and 16 tokens make a step several times cheaper than 4×4 patches\' 49', dropout: 0,
    build: ({ classes }) => visionTransformer({ classes, patch: 1, width: 64, blocks: 4, heads: 4, stem: [16, 32, 64] }),
  },
  'vit-p4': {
    about: 'the first vit: 4×4 patches → 49 tokens + class token, 64 wide, 4 pre-norm blocks of 4 heads (kept to compare with; graph checkpoints of it load either way)', dropout: 0,
    build: ({ classes }) => visionTransformer({ classes, patch: 4, width: 64, blocks: 4, heads: 4 }),
  },
  rnn: {
    about: 'SimpleRNN 128 over the 28 rows of the image (28 pixels per step) → Dense', dropout: 0,
    build: ({ classes, dropout }) => [new SimpleRNN({ units: 128 }), ...maybeDropout(dropout), new Dense({ units: classes })],
  },
  lstm: {
    about: 'LSTM 128 over the 28 rows of the image (28 pixels per step) → Dense', dropout: 0,
    build: ({ classes, dropout }) => [new LSTM({ units: 128 }), ...maybeDropout(dropout), new Dense({ units: classes })],
  },
};

export const ZOO_NAMES = Object.keys(ZOO);

export function zooDescription(name: string): string {
  return ZOO[name]?.about ?? '';
}

export function zooModel(name: string, options: ZooOptions = {}): Model {
  const entry = Object.hasOwn(ZOO, name) ? ZOO[name] : undefined;
  if (!entry) throw new Error(`unknown model "${name}"; the zoo has: ${ZOO_NAMES.join(', ')}`);
  const built = entry.build({ classes: options.classes ?? 10, dropout: options.dropout ?? entry.dropout });
  const inputShape = options.inputShape ?? [1, 28, 28];
  if (Array.isArray(built)) return new Sequential(inputShape, built);
  const x = input(inputShape);
  return new Model({ inputs: x, outputs: (built as (x: SymbolicTensor) => SymbolicTensor)(x) });
}
