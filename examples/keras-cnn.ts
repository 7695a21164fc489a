// The Keras "simple MNIST convnet" on webgrad: the same layers, batch 128, Adam, a 10% validation
// split, then the test set. Pixels are scaled to [0, 1], as in the original.
//   node --import tsx examples/keras-cnn.ts [--quick] [--epochs N]
import { createGpu, Sequential, Conv2D, MaxPool2D, Flatten, Dropout, Dense, Softmax, ModelState, uploadDataset, fit, fitProgress, Evaluator, range, takeSamples } from 'webgrad';
import { loadDataset, runCommand, positive } from 'webgrad/node';

const command = {
  name: 'keras-cnn',
  summary: 'The Keras simple MNIST convnet: two convolutions, dropout, softmax; Adam, batch 128.',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 3,000 training images, 1 epoch, 1,000 test images' },
    epochs: { type: 'int', default: 15, check: positive, help: 'passes over the training set' },
  },
} as const;

runCommand(command, async ({ flags }) => {
  const mnist = await loadDataset('mnist');
  const train = flags.quick ? takeSamples(mnist.train, range(0, 3000)) : mnist.train;
  const test = flags.quick ? takeSamples(mnist.test, range(0, 1000)) : mnist.test;
  const epochs = flags.quick ? 1 : flags.epochs;
  const batchSize = 128;

  const model = new Sequential([1, 28, 28], [
    new Conv2D({ filters: 32, kernelSize: 3, activation: 'relu' }),
    new MaxPool2D({ poolSize: 2 }),
    new Conv2D({ filters: 64, kernelSize: 3, activation: 'relu' }),
    new MaxPool2D({ poolSize: 2 }),
    new Flatten(),
    new Dropout(0.5),
    new Dense({ units: 10 }),
    new Softmax(),
  ]);
  console.log(model.summary());

  const gpu = await createGpu();
  const state = new ModelState(gpu, model, model.initialValues(1));
  const trainData = uploadDataset(gpu, train, 10, 'mnist.train');
  const normalize = { mean: 0, std: 1 };
  const validationStart = Math.floor(train.count * 0.9);
  await fit(gpu, model, state, trainData, {
    epochs, batchSize, seed: 1, optimizer: { kind: 'adam', lr: 1e-3 }, normalize,
    trainIndices: range(0, validationStart), validationIndices: range(validationStart, train.count),
    ...fitProgress({ epochs, batchSize, sink: process.stdout }),
  });

  const testData = uploadDataset(gpu, test, 10, 'mnist.test');
  const score = await new Evaluator(gpu, model, state, testData, 500, normalize).evaluate(range(0, test.count));
  console.log(`test loss ${score.loss.toFixed(4)}`);
  console.log(`test accuracy ${score.accuracy.toFixed(4)}`);
  return 0;
});
