// A small pre-activation residual network (He et al., "Identity Mappings in Deep Residual Networks":
// batch norm → ReLU → convolution inside each block, the shortcut added untouched) drawn on symbolic
// tensors, trained on all 60,000 MNIST images with augmentation and a one-cycle schedule, then tested.
//   node --import tsx examples/resnet.ts [--quick] [--epochs N]
import { createGpu, input, Model, Conv2D, BatchNorm, ReLU, MaxPool2D, AvgPool2D, Flatten, Dense, add, ModelState, uploadDataset, fit, Evaluator, fitProgress, pixelStats, range, takeSamples, type SymbolicTensor } from 'webgrad';
import { loadDataset, runCommand, positive } from 'webgrad/node';

const command = {
  name: 'resnet',
  summary: 'A small pre-activation ResNet on MNIST, with augmentation and a one-cycle schedule.',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 960 training images, 1 epoch at batch 16 without augmentation, 500 test images' },
    epochs: { type: 'int', default: 3, check: positive, help: 'passes over the training set (the length of the one-cycle schedule)' },
  },
} as const;

const conv = (x: SymbolicTensor, filters: number, kernelSize: number, strides = 1) =>
  new Conv2D({ filters, kernelSize, strides, padding: (kernelSize - 1) / 2, useBias: false }).apply(x);
const bnRelu = (x: SymbolicTensor) => ReLU().apply(new BatchNorm().apply(x));

function preActivationBlock(x: SymbolicTensor, filters: number, strides: number): SymbolicTensor {
  const activated = bnRelu(x);
  const body = conv(bnRelu(conv(activated, filters, 3, strides)), filters, 3);
  // Where the block changes the shape, a 1×1 convolution of the activated input carries the shortcut.
  const shortcut = strides === 1 && x.shape[0] === filters ? x : conv(activated, filters, 1, strides);
  return add(body, shortcut);
}

runCommand(command, async ({ flags }) => {
  const mnist = await loadDataset('mnist');
  const train = flags.quick ? takeSamples(mnist.train, range(0, 960)) : mnist.train;
  const test = flags.quick ? takeSamples(mnist.test, range(0, 500)) : mnist.test;
  const epochs = flags.quick ? 1 : flags.epochs;
  const batchSize = flags.quick ? 16 : 128;

  const x = input([1, 28, 28]);
  let y = new MaxPool2D({ poolSize: 2 }).apply(conv(x, 32, 3)); // 14×14
  y = preActivationBlock(y, 32, 1);
  y = preActivationBlock(y, 64, 2); // 7×7
  y = new Flatten().apply(new AvgPool2D({ poolSize: 7 }).apply(bnRelu(y)));
  const model = new Model({ inputs: x, outputs: new Dense({ units: 10 }).apply(y) });
  console.log(model.summary());

  const gpu = await createGpu();
  const state = new ModelState(gpu, model, model.initialValues(1));
  const trainData = uploadDataset(gpu, train, 10, 'mnist.train');
  const stats = pixelStats(train.images);
  const normalize = { mean: stats.mean / 255, std: stats.std / 255 };
  await fit(gpu, model, state, trainData, {
    epochs, batchSize, seed: 1, normalize, optimizer: { kind: 'adam', lr: 4e-3 }, schedule: { kind: 'onecycle' },
    ...(flags.quick ? {} : { augment: { maxRotationDegrees: 10, maxTranslatePixels: 2, minScale: 0.9, maxScale: 1.1 } }),
    trainIndices: range(0, train.count), ...fitProgress({ epochs, batchSize, sink: process.stdout }),
  });

  const testData = uploadDataset(gpu, test, 10, 'mnist.test');
  const result = await new Evaluator(gpu, model, state, testData, 500, normalize).evaluate(range(0, test.count));
  console.log(`test loss ${result.loss.toFixed(4)}`);
  console.log(`test accuracy ${result.accuracy.toFixed(4)}`);
  return 0;
});
