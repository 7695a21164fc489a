// The PyTorch MNIST example's shape on webgrad: a Net class whose forward() draws the network, and a
// training loop written out by hand (for epoch, for batch: step, print the loss), then a test pass.
// The loss is cross-entropy on the logits, fused into the compiled step (PyTorch's log_softmax +
// nll_loss); Adam with the learning rate ×0.7 after each epoch stands in for Adadelta + StepLR.
//   node --import tsx examples/torch-loop.ts [--quick] [--epochs N]
import { Session, input, Model, Conv2D, MaxPool2D, Dropout, Flatten, Dense, ReLU, ModelState, Trainer, Evaluator, uploadDataset, epochPermutation, stepsPerEpoch, range, takeSamples, type SymbolicTensor } from 'webgrad';
import { loadDataset, runCommand, positive } from 'webgrad/node';

const command = {
  name: 'torch-loop',
  summary: 'A PyTorch-style Net and a hand-written training loop on MNIST.',
  flags: {
    quick: { type: 'bool', help: 'a smoke run: 640 training images, 1 epoch, 500 test images' },
    epochs: { type: 'int', default: 2, check: positive, help: 'passes over the training set (the PyTorch example runs 14, which takes hours on a CPU adapter; two epochs of Adam reach 98.9% here)' },
  },
} as const;

class Net {
  conv1 = new Conv2D({ filters: 32, kernelSize: 3 });
  conv2 = new Conv2D({ filters: 64, kernelSize: 3 });
  dropout1 = new Dropout(0.25);
  dropout2 = new Dropout(0.5);
  fc1 = new Dense({ units: 128 });
  fc2 = new Dense({ units: 10 });

  forward(x: SymbolicTensor): SymbolicTensor {
    x = ReLU().apply(this.conv1.apply(x));
    x = ReLU().apply(this.conv2.apply(x));
    x = new MaxPool2D({ poolSize: 2 }).apply(x);
    x = new Flatten().apply(this.dropout1.apply(x));
    x = ReLU().apply(this.fc1.apply(x));
    return this.fc2.apply(this.dropout2.apply(x));
  }
}

runCommand(command, async ({ flags }) => {
  const mnist = await loadDataset('mnist');
  const train = flags.quick ? takeSamples(mnist.train, range(0, 640)) : mnist.train;
  const test = flags.quick ? takeSamples(mnist.test, range(0, 500)) : mnist.test;
  const epochs = flags.quick ? 1 : flags.epochs;
  const batchSize = 64, seed = 1, logInterval = 10;
  const normalize = { mean: 0.1307, std: 0.3081 };

  const x = input([1, 28, 28]);
  const model = new Model({ inputs: x, outputs: new Net().forward(x) });
  // The session tunes GEMM for this adapter before anything compiles (programs bake in the variant).
  const { gpu } = await Session.create();
  const state = new ModelState(gpu, model, model.initialValues(seed));
  const trainData = uploadDataset(gpu, train, 10, 'mnist.train');
  const steps = stepsPerEpoch(train.count, batchSize);
  const trainer = new Trainer(gpu, model, state, trainData, new Map(), {
    batchSize, seed, normalize, optimizer: { kind: 'adam', lr: 1e-3 }, schedule: { kind: 'step', stepSize: 1, gamma: 0.7 },
    stepsPerEpoch: steps, totalSteps: steps * epochs,
    ...(train.count % batchSize ? { remainderBatch: train.count % batchSize } : {}),
  });

  for (let epoch = 1; epoch <= epochs; epoch++) {
    const order = epochPermutation(train.count, seed, epoch);
    for (let b = 0; b < steps; b++) {
      // The last batch is short when the batch size does not divide the set; its program was compiled with the trainer (remainderBatch).
      const seen = Math.min((b + 1) * batchSize, train.count);
      await trainer.step(order.subarray(b * batchSize, seen));
      if ((b + 1) % logInterval === 0 || b + 1 === steps) {
        const { loss } = await trainer.totals(); // the mean over the batches since the last reset
        trainer.resetTotals();
        console.log(`Train Epoch: ${epoch} [${seen}/${train.count} (${Math.round((100 * seen) / train.count)}%)]\tLoss: ${loss.toFixed(6)}`);
      }
    }
  }

  const testData = uploadDataset(gpu, test, 10, 'mnist.test');
  const result = await new Evaluator(gpu, model, state, testData, 500, normalize).evaluate(range(0, test.count));
  const correct = Math.round(result.accuracy * test.count);
  console.log(`Test set: Average loss: ${result.loss.toFixed(4)}, Accuracy: ${correct}/${test.count} (${Math.round(100 * result.accuracy)}%)`);
  console.log(`test accuracy ${result.accuracy.toFixed(4)}`);
  return 0;
});
