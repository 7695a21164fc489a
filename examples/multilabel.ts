// Two yes/no labels per MNIST image — is the digit odd, is it 5 or more — learned together with
// binary cross-entropy on two logits, and scored by the accuracy of each label (a logit > 0 is yes).
//   node --import tsx examples/multilabel.ts [--quick] [--epochs N]
import { createGpu, Sequential, Flatten, Dense, ModelState, tensorDataset, fit, fitProgress, Evaluator, range, takeSamples, type ImageSet } from 'webgrad';
import { loadDataset, runCommand, positive } from 'webgrad/node';

const command = {
  name: 'multilabel',
  summary: 'Two binary labels per MNIST digit (odd, ≥ 5) with BCE; per-label accuracy.',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 3,000 training images, 1 epoch, 1,000 test images' },
    epochs: { type: 'int', default: 5, check: positive, help: 'passes over the training set' },
  },
} as const;

const LABELS = ['odd', 'five or more'];

/** The images as field x and, as field y, [odd, ≥ 5] as 0/1 per image. */
function fields(set: ImageSet) {
  const y = new Float32Array(set.count * 2);
  for (let i = 0; i < set.count; i++) {
    y[2 * i] = set.labels[i]! % 2;
    y[2 * i + 1] = set.labels[i]! >= 5 ? 1 : 0;
  }
  return { x: { data: set.images, shape: [set.count, 1, set.rows, set.cols] }, y: { data: y, shape: [set.count, 2] } };
}

runCommand(command, async ({ flags }) => {
  const mnist = await loadDataset('mnist');
  const train = flags.quick ? takeSamples(mnist.train, range(0, 3000)) : mnist.train;
  const test = flags.quick ? takeSamples(mnist.test, range(0, 1000)) : mnist.test;
  const epochs = flags.quick ? 1 : flags.epochs;
  const batchSize = 64;

  const model = new Sequential([1, 28, 28], [new Flatten(), new Dense({ units: 256, activation: 'relu' }), new Dense({ units: 2 })]);
  const gpu = await createGpu();
  const state = new ModelState(gpu, model, model.initialValues(1));
  const normalize = { mean: 0.1307, std: 0.3081 };
  await fit(gpu, model, state, tensorDataset(gpu, fields(train), 'mnist.train'), {
    epochs, batchSize, seed: 1, loss: 'binary-crossentropy', normalize, optimizer: { kind: 'adam', lr: 1e-3 },
    trainIndices: range(0, train.count), ...fitProgress({ epochs, batchSize, sink: process.stdout }),
  });
  const result = await new Evaluator(gpu, model, state, tensorDataset(gpu, fields(test), 'mnist.test'), 500, normalize, { loss: 'binary-crossentropy' })
    .evaluate(range(0, test.count));
  LABELS.forEach((name, i) => console.log(`${name}: accuracy ${result.metrics[`accuracy[${i}]`]!.toFixed(4)}`));
  console.log(`test loss ${result.loss.toFixed(4)}`);
  console.log(`test accuracy ${result.accuracy.toFixed(4)}`);
  return 0;
});
