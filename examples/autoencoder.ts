// A denoising autoencoder on MNIST: each digit with Gaussian noise added goes in, the clean digit
// is the target, MSE the loss. Writes a picture of eight test digits: noisy input, output, clean.
//   node --import tsx examples/autoencoder.ts [--quick] [--epochs N] [--out FILE]
import { writeFileSync } from 'node:fs';
import { createGpu, input, Model, Flatten, Dense, reshape, ModelState, tensorDataset, fit, fitProgress, Evaluator, predict, range, takeSamples, seededRandom, encodePng, type ImageSet } from 'webgrad';
import { loadDataset, runCommand, positive } from 'webgrad/node';

const command = {
  name: 'autoencoder',
  summary: 'A denoising autoencoder on MNIST with MSE; writes noisy / output / clean rows as a PNG.',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 3,000 training images, 2 epochs, 500 test images' },
    epochs: { type: 'int', default: 10, check: positive, help: 'passes over the training set' },
    out: { type: 'path', default: 'autoencoder.png', help: 'where to write the picture' },
  },
} as const;

/** The images with noise of std 0.3 (on the [0, 1] scale) added and clipped, as bytes. */
function noisy(images: Uint8Array, seed: number): Uint8Array {
  const random = seededRandom(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return images.map((v) => Math.max(0, Math.min(255, Math.round(v + 0.3 * 255 * gaussian()))));
}

const fields = (set: ImageSet, seed: number) => ({
  x: { data: noisy(set.images, seed), shape: [set.count, 1, 28, 28] },
  y: { data: set.images, shape: [set.count, 1, 28, 28] },
});

runCommand(command, async ({ flags }) => {
  const mnist = await loadDataset('mnist');
  const train = flags.quick ? takeSamples(mnist.train, range(0, 3000)) : mnist.train;
  const test = flags.quick ? takeSamples(mnist.test, range(0, 500)) : mnist.test;
  const epochs = flags.quick ? 2 : flags.epochs;
  const batchSize = 64;

  const x = input([1, 28, 28]);
  let h = new Dense({ units: 256, activation: 'relu' }).apply(new Flatten().apply(x));
  h = new Dense({ units: 64, activation: 'relu' }).apply(h);
  h = new Dense({ units: 256, activation: 'relu' }).apply(h);
  const model = new Model({ inputs: x, outputs: reshape(new Dense({ units: 784, activation: 'sigmoid' }).apply(h), [1, 28, 28]) });
  const gpu = await createGpu();
  const state = new ModelState(gpu, model, model.initialValues(1));
  await fit(gpu, model, state, tensorDataset(gpu, fields(train, 1), 'mnist.train'), {
    epochs, batchSize, seed: 1, loss: 'mse', optimizer: { kind: 'adam', lr: 1e-3 },
    trainIndices: range(0, train.count), ...fitProgress({ epochs, batchSize, sink: process.stdout }),
  });
  const testFields = fields(test, 2);
  const result = await new Evaluator(gpu, model, state, tensorDataset(gpu, testFields, 'mnist.test'), 500, undefined, { loss: 'mse' }).evaluate(range(0, test.count));

  const shown = 8;
  const outputs = await predict(gpu, model, state, { data: testFields.x.data.subarray(0, shown * 784), shape: [shown, 1, 28, 28] });
  const picture = new Uint8Array(3 * 28 * shown * 28);
  const rows = [testFields.x.data, Uint8Array.from(outputs, (v) => Math.round(255 * v)), testFields.y.data];
  rows.forEach((source, row) => {
    for (let i = 0; i < shown; i++) for (let p = 0; p < 784; p++) {
      picture[(row * 28 + Math.floor(p / 28)) * shown * 28 + i * 28 + (p % 28)] = source[i * 784 + p]!;
    }
  });
  writeFileSync(flags.out, await encodePng(picture, shown * 28, 3 * 28));
  console.log(`wrote ${flags.out}: noisy inputs, outputs and clean digits, one row each`);
  console.log(`test mse ${result.metrics.mse!.toFixed(4)}`);
  return 0;
});
