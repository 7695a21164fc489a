// The demo's training worker: WebGPU lives here, so the page stays responsive however long a step
// takes. Everything below is the same library code scripts/train-mnist.ts runs in Node.
import type { FromWorker, Samples, ToWorker, TrainRequest } from './protocol.ts';
import { demoTrainerOptions, trainSteps } from './training.ts';
import { generateText } from './generation.ts';
import { Session as WebgradSession, NoAdapterError, decodeIdxSplit, pixelStats, zooModel, Evaluator, ModelState, Trainer, destroyDataset, range, uploadDataset, predictLogits, encodeCheckpoint, loadModel, describeModel, imageClassifierShape, type Gpu, type ImageSet, type Model, type ModelDescription, type GpuDataset, type Normalization } from 'webgrad';

const CLASSES = 10;
const GRID_IMAGES = 32;

interface Mnist { train: ImageSet; test: ImageSet; gpuTrain: GpuDataset; gpuTest: GpuDataset; normalize: Normalization }
interface Session { model: Model; description: ModelDescription; state: ModelState; normalize: Normalization; trainer?: Trainer }

let gpuPromise: Promise<Gpu> | undefined;
let mnistPromise: Promise<Mnist> | undefined;
let session: Session | undefined;

const post = (message: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(message, transfer);

async function gpuReady(): Promise<Gpu> {
  gpuPromise ??= WebgradSession.create({ tuneConvolution: false, onTuning: (gpu) => post({ type: 'status', text: 'timing GEMM kernels on this GPU…', adapter: gpu.describe() }) }).then(({ gpu }) => {
    post({ type: 'status', text: 'WebGPU ready', adapter: gpu.describe() });
    return gpu;
  });
  return gpuPromise;
}

async function fetchBytes(name: string): Promise<{ name: string; bytes: Uint8Array }> {
  const response = await fetch(`/data/mnist/${name}`);
  if (!response.ok) throw new Error(`/data/mnist/${name}: HTTP ${response.status} ${await response.text()}`);
  return { name, bytes: new Uint8Array(await response.arrayBuffer()) };
}

async function loadSplit(prefix: string): Promise<ImageSet> {
  const [images, labels] = await Promise.all([fetchBytes(`${prefix}-images-idx3-ubyte.gz`), fetchBytes(`${prefix}-labels-idx1-ubyte.gz`)]);
  return decodeIdxSplit(images, labels, CLASSES);
}

async function mnistReady(gpu: Gpu): Promise<Mnist> {
  mnistPromise ??= (async () => {
    post({ type: 'status', text: 'loading MNIST…' });
    const [train, test] = await Promise.all([loadSplit('train'), loadSplit('t10k')]);
    const stats = pixelStats(train.images);
    return {
      train, test, normalize: { mean: stats.mean / 255, std: stats.std / 255 },
      gpuTrain: uploadDataset(gpu, train, CLASSES, 'mnist.train'), gpuTest: uploadDataset(gpu, test, CLASSES, 'mnist.test'),
    };
  })();
  return mnistPromise;
}

function endSession(): void {
  session?.trainer?.destroy();
  session?.state.destroy();
  session = undefined;
}

/** Test accuracy on the first `testImages` test images, and the first GRID_IMAGES of them for the grid. */
async function evaluate(gpu: Gpu, mnist: Mnist, s: Session, testImages: number): Promise<{ accuracy: number; samples: Samples }> {
  const evaluator = new Evaluator(gpu, s.model, s.state, mnist.gpuTest, 500, s.normalize);
  try {
    const result = await evaluator.evaluate(range(0, Math.min(Math.max(testImages, GRID_IMAGES), mnist.test.count)));
    const pixels = mnist.test.rows * mnist.test.cols;
    return {
      accuracy: result.accuracy,
      samples: {
        count: GRID_IMAGES, images: mnist.test.images.slice(0, GRID_IMAGES * pixels),
        labels: mnist.test.labels.slice(0, GRID_IMAGES), predictions: result.predictions.slice(0, GRID_IMAGES),
      },
    };
  } finally {
    evaluator.destroy();
  }
}

async function train(request: TrainRequest): Promise<void> {
  const gpu = await gpuReady();
  const mnist = await mnistReady(gpu);
  endSession();
  const model = zooModel(request.model, { classes: CLASSES });
  const state = new ModelState(gpu, model, model.initialValues(request.seed));
  const trainer = new Trainer(gpu, model, state, mnist.gpuTrain, new Map(), demoTrainerOptions(request, mnist.train.count, mnist.normalize));
  session = { model, description: { zoo: request.model, options: { classes: CLASSES } }, state, normalize: mnist.normalize, trainer };
  post({ type: 'status', text: `training ${request.model} (${model.parameterCount()} parameters)…` });
  const seconds = await trainSteps(trainer, mnist.train.count, request.steps, request.every,
    (window) => post({ type: 'progress', steps: request.steps, ...window }));
  const { accuracy, samples } = await evaluate(gpu, mnist, session, request.testImages);
  post({ type: 'trained', testAccuracy: accuracy, testImages: Math.min(Math.max(request.testImages, GRID_IMAGES), mnist.test.count), imagesPerSecond: (request.steps * request.batchSize) / seconds, seconds, samples });
}

async function predict(pixels: Uint8Array): Promise<void> {
  const gpu = await gpuReady();
  if (!session) throw new Error('train or load a model first');
  const drawing = uploadDataset(gpu, { images: pixels, labels: new Uint8Array(1), count: 1, rows: 28, cols: 28 }, CLASSES, 'drawing');
  try {
    const logits = await predictLogits(gpu, session.model, session.state, drawing, new Uint32Array([0]), session.normalize);
    const max = Math.max(...logits);
    const exp = Array.from(logits, (v) => Math.exp(v - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    post({ type: 'prediction', probabilities: exp.map((v) => v / sum) });
  } finally {
    destroyDataset(gpu, drawing);
  }
}

async function save(): Promise<void> {
  if (!session) throw new Error('train or load a model first');
  const bytes = await encodeCheckpoint(session.state, {
    model: session.description, epoch: 0, normalize: session.normalize,
    classNames: Array.from({ length: CLASSES }, (_, i) => String(i)),
  }, session.trainer);
  post({ type: 'saved', bytes, name: `webgrad-${'zoo' in session.description ? session.description.zoo : 'graph'}-mnist.safetensors` }, [bytes.buffer]);
}

async function load(name: string, bytes: Uint8Array, testImages: number): Promise<void> {
  const gpu = await gpuReady();
  const mnist = await mnistReady(gpu);
  const { model, weights, normalize, checkpoint } = await loadModel(bytes, name);
  // The demo draws and evaluates MNIST digits as they are: one gray 28×28 channel in, ten classes out.
  let shape;
  try {
    shape = imageClassifierShape(model);
  } catch (error) {
    throw new Error(`${name}: the demo runs image classifiers, and ${(error as Error).message}`);
  }
  if (shape.channels !== 1 || shape.height !== 28 || shape.width !== 28 || shape.classes !== CLASSES) {
    throw new Error(`${name}: the model maps ${shape.channels}×${shape.height}×${shape.width} images to ${shape.classes} classes; the demo evaluates 1×28×28 MNIST digits in ${CLASSES} classes`);
  }
  endSession();
  const state = new ModelState(gpu, model, weights);
  session = { model, description: checkpoint.model, state, normalize };
  const { accuracy, samples } = await evaluate(gpu, mnist, session, testImages);
  post({ type: 'status', text: `loaded ${name}: ${describeModel(checkpoint.model)}, test accuracy ${(100 * accuracy).toFixed(1)}% on ${testImages} images` });
  post({ type: 'trained', testAccuracy: accuracy, testImages, imagesPerSecond: 0, seconds: 0, samples });
}

// One request at a time, in order: a prediction asked for mid-training waits for the run to end.
let queue = Promise.resolve();
self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  queue = queue.then(async () => {
    try {
      if (message.type === 'train') await train(message);
      else if (message.type === 'predict') await predict(message.pixels);
      else if (message.type === 'save') await save();
      else if (message.type === 'generate') await generateText(await gpuReady(), message, post);
      else await load(message.name, message.bytes, message.testImages);
    } catch (error) {
      post({ type: 'error', message: error instanceof Error ? error.message : String(error), noWebGpu: error instanceof NoAdapterError });
    }
  });
};

// Look for an adapter at once, so a browser without WebGPU says so before anyone presses Train.
gpuReady().catch((error: unknown) => {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error), noWebGpu: error instanceof NoAdapterError });
});
