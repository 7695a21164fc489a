// MNIST as colour images: each digit resized to 32×32 with its gray repeated into three channels,
// each channel standardised by its own training mean and std, then a small CNN trained with fit().
// The per-channel normalization happens in the gather step on the GPU, as the batch is assembled.
//   node --import tsx examples/rgb32.ts [--quick] [--epochs N]
import { createGpu, input, Model, Conv2D, MaxPool2D, Flatten, Dropout, Dense, ModelState, uploadDataset, fit, Evaluator, fitProgress, range, takeSamples, resizeImages, channelStats } from 'webgrad';
import { loadDataset, runCommand, positive } from 'webgrad/node';

const command = {
  name: 'rgb32',
  summary: 'MNIST resized to 32×32×3, normalised per channel, trained with a small CNN.',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 960 training images, 1 epoch at batch 32, 500 test images' },
    epochs: { type: 'int', default: 2, check: positive, help: 'passes over the training set (the length of the cosine schedule)' },
  },
} as const;

runCommand(command, async ({ flags }) => {
  const mnist = await loadDataset('mnist');
  const colour = { height: 32, width: 32, channels: 3 };
  const train = resizeImages(flags.quick ? takeSamples(mnist.train, range(0, 960)) : mnist.train, colour);
  const test = resizeImages(flags.quick ? takeSamples(mnist.test, range(0, 500)) : mnist.test, colour);
  const epochs = flags.quick ? 1 : flags.epochs;
  const batchSize = flags.quick ? 32 : 64;

  const stats = channelStats(train); // on the 0..255 scale
  const normalize = { mean: stats.map((s) => s.mean / 255), std: stats.map((s) => s.std / 255) };
  const x = input([3, 32, 32]);
  let y = new MaxPool2D({ poolSize: 2 }).apply(new Conv2D({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(x));
  y = new MaxPool2D({ poolSize: 2 }).apply(new Conv2D({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(y));
  y = new Dense({ units: 128, activation: 'relu' }).apply(new Flatten().apply(y));
  y = new Dense({ units: 10 }).apply(new Dropout(0.5).apply(y));
  const model = new Model({ inputs: x, outputs: y });
  console.log(model.summary());
  console.log(`channel means ${stats.map((s) => s.mean.toFixed(2)).join(' ')}, stds ${stats.map((s) => s.std.toFixed(2)).join(' ')}`);

  const gpu = await createGpu();
  const state = new ModelState(gpu, model, model.initialValues(1));
  const trainData = uploadDataset(gpu, train, 10, 'mnist32.train');
  await fit(gpu, model, state, trainData, {
    epochs, batchSize, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, schedule: { kind: 'cosine' }, normalize,
    trainIndices: range(0, train.count), ...fitProgress({ epochs, batchSize, sink: process.stdout }),
  });

  const testData = uploadDataset(gpu, test, 10, 'mnist32.test');
  const result = await new Evaluator(gpu, model, state, testData, 500, normalize).evaluate(range(0, test.count));
  console.log(`test loss ${result.loss.toFixed(4)}`);
  console.log(`test accuracy ${result.accuracy.toFixed(4)}`);
  return 0;
});
