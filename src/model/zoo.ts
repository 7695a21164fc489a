// The networks of the classic Keras and PyTorch MNIST tutorials, by name, for 1×28×28 inputs.
import { BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, ReLU } from '../layers/layers.ts';
import type { Layer } from '../layers/layer.ts';
import { Sequential } from './model.ts';
import { LSTM, SimpleRNN } from '../layers/recurrent.ts';

export interface ZooOptions {
  classes?: number;
  /** Dropout rate before the classifier (models that have one); 0 removes it. */
  dropout?: number;
  inputShape?: readonly [number, number, number];
}

type Builder = (o: Required<Pick<ZooOptions, 'classes' | 'dropout'>>) => Layer[];

const maybeDropout = (rate: number): Layer[] => (rate > 0 ? [new Dropout(rate)] : []);

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

export function zooModel(name: string, options: ZooOptions = {}): Sequential {
  const entry = ZOO[name];
  if (!entry) throw new Error(`unknown model "${name}"; the zoo has: ${ZOO_NAMES.join(', ')}`);
  const layers = entry.build({ classes: options.classes ?? 10, dropout: options.dropout ?? entry.dropout });
  return new Sequential(options.inputShape ?? [1, 28, 28], layers);
}
