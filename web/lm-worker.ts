// The language-model page's worker: trains a character-level gpt on the page's text and samples
// from it, with the same library calls bench/train-lm.ts makes in Node (gptModel, CharTokenizer,
// uploadTokens, Trainer), and saves/loads it as safetensors with the tokenizer in the metadata.
import type { LmFromWorker, LmGenerateRequest, LmToWorker, LmTrainRequest } from './lm-protocol.ts';
import { generateText } from './lm-generation.ts';
import { CharTokenizer, createGpu, destroyDataset, encodeCheckpoint, Evaluator, gptModel, loadModel, ModelState, NoAdapterError, Trainer, uploadTokens, type Gpu, type GpuTokenDataset, type Tokenizer } from 'webgrad';

/** The share of the text kept back from training to measure held-out loss on. */
const HELD_OUT_SHARE = 0.1;
/** Held-out windows per evaluation (spread evenly over the held-out text). */
const HELD_OUT_WINDOWS = 8;
/** Token ids go in as they are; a checkpoint still records an input normalization, so the identity. */
const IDENTITY_NORMALIZATION = { mean: 0, std: 1 };

interface Session { state: ModelState; tokenizer: Tokenizer; context: number; trainer?: Trainer }

let gpuPromise: Promise<Gpu> | undefined;
let session: Session | undefined;

const post = (message: LmFromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(message, transfer);

async function gpuReady(): Promise<Gpu> {
  // No tuneGemm here, unlike the MNIST page: the page's models are tiny, so its products are too
  // small for the GEMM variant to matter, and timing the variants takes minutes on a software adapter.
  gpuPromise ??= createGpu().then((gpu) => {
    post({ type: 'status', text: 'WebGPU ready', adapter: gpu.describe() });
    return gpu;
  });
  return gpuPromise;
}

function endSession(): void {
  session?.trainer?.destroy();
  session?.state.destroy();
  session = undefined;
}

/** Window starts spread evenly over a token stream (at most `count`, each with its next token). */
function evenStarts(tokens: number, context: number, count: number): Uint32Array {
  const last = tokens - context - 1;
  const n = Math.min(count, last + 1);
  return Uint32Array.from({ length: n }, (_, i) => Math.round(n > 1 ? (i * last) / (n - 1) : 0));
}

/** A seeded stream of window starts in [0, limit). */
function randomStarts(seed: number, limit: number, batch: number): () => Uint32Array {
  let a = seed >>> 0;
  const next = () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32;
  };
  return () => Uint32Array.from({ length: batch }, () => Math.floor(next() * limit));
}

async function train(r: LmTrainRequest): Promise<void> {
  const gpu = await gpuReady();
  const tokenizer = CharTokenizer.fromCorpus(r.text);
  const stream = tokenizer.encode(r.text);
  const split = Math.floor(stream.length * (1 - HELD_OUT_SHARE));
  const [trainTokens, heldOutTokens] = [stream.subarray(0, split), stream.subarray(split)];
  for (const [what, part] of [['training', trainTokens], ['held-out', heldOutTokens]] as const) {
    if (part.length <= r.context) {
      throw new Error(`text: its ${what} part (${part.length} characters of ${stream.length}) is too short for one window of context ${r.context} plus its next character; paste more text or lower the context`);
    }
  }
  endSession();
  const model = gptModel({ vocab: tokenizer.vocab, layers: r.layers, heads: r.heads, width: r.width, context: r.context });
  const trainData = uploadTokens(gpu, trainTokens, { vocab: tokenizer.vocab, context: r.context, name: 'lm.train' });
  const heldOutData: GpuTokenDataset = uploadTokens(gpu, heldOutTokens, { vocab: tokenizer.vocab, context: r.context, name: 'lm.held-out' });
  const state = new ModelState(gpu, model, model.initialValues(r.seed));
  const trainer = new Trainer(gpu, model, state, trainData, new Map(), {
    batchSize: r.batchSize, seed: r.seed, optimizer: { kind: 'adamw', lr: r.lr }, stepsPerEpoch: r.steps, totalSteps: r.steps,
  });
  session = { state, tokenizer, context: r.context, trainer };
  const heldOutStarts = evenStarts(heldOutTokens.length, r.context, HELD_OUT_WINDOWS);
  const evaluator = new Evaluator(gpu, model, state, heldOutData, heldOutStarts.length);
  const starts = randomStarts(r.seed, trainTokens.length - r.context, r.batchSize);
  post({ type: 'status', text: `training a gpt of ${model.parameterCount()} parameters on ${stream.length} characters (vocabulary ${tokenizer.vocab})…` });
  try {
    const started = performance.now();
    let windowStart = started, trainingMs = 0;
    for (let step = 0; step < r.steps; step++) {
      await trainer.step(starts());
      if ((step + 1) % r.every !== 0 && step + 1 !== r.steps) continue;
      // Reading the totals waits for the GPU, so the window's time is all its steps' work.
      const totals = await trainer.totals();
      trainer.resetTotals();
      const windowMs = performance.now() - windowStart;
      trainingMs += windowMs;
      const heldOut = await evaluator.evaluate(heldOutStarts);
      post({ type: 'progress', step: step + 1, steps: r.steps, trainLoss: totals.loss, heldOutLoss: heldOut.loss, tokensPerSecond: (totals.rows * 1000) / windowMs });
      windowStart = performance.now();
    }
    post({ type: 'trained', tokensPerSecond: (r.steps * r.batchSize * r.context * 1000) / trainingMs, seconds: (performance.now() - started) / 1000, parameters: model.parameterCount() });
  } finally {
    evaluator.destroy();
    destroyDataset(gpu, trainData);
    destroyDataset(gpu, heldOutData);
  }
}

async function generate(r: LmGenerateRequest): Promise<void> {
  const gpu = await gpuReady();
  if (!session) throw new Error('train or load a model first');
  const started = performance.now();
  await generateText(gpu, session.state, session.tokenizer, r.prompt, r.characters,
    { temperature: r.temperature, topK: r.topK, seed: r.seed }, (text) => post({ type: 'text', text }));
  post({ type: 'generated', characters: r.characters, tokensPerSecond: (r.characters * 1000) / (performance.now() - started) });
}

async function save(): Promise<void> {
  if (!session) throw new Error('train or load a model first');
  const bytes = await encodeCheckpoint(session.state, { epoch: 0, normalize: IDENTITY_NORMALIZATION, tokenizer: session.tokenizer.describe() }, session.trainer);
  post({ type: 'saved', bytes, name: 'webgrad-gpt.safetensors' }, [bytes.buffer]);
}

async function load(name: string, bytes: Uint8Array): Promise<void> {
  const gpu = await gpuReady();
  const { model, weights, tokenizer } = await loadModel(bytes, name);
  if (!tokenizer) throw new Error(`${name}: the checkpoint has no tokenizer in its metadata; this page generates text from language models saved with one`);
  const [context, ...rest] = model.inputShape;
  if (rest.length || model.outputShape.length !== 2 || model.outputShape[1] !== tokenizer.vocab) {
    throw new Error(`${name}: the model maps [${model.inputShape.join(', ')}] to [${model.outputShape.join(', ')}]; this page runs language models mapping [context] token ids to [context, ${tokenizer.vocab}] logits`);
  }
  endSession();
  session = { state: new ModelState(gpu, model, weights), tokenizer, context: context! };
  post({ type: 'loaded', name, description: `${model.parameterCount()} parameters, context ${context}, vocabulary ${tokenizer.vocab}`, vocab: tokenizer.vocab, context: context! });
}

// One request at a time, in order: generating mid-training waits for the run to end.
let queue = Promise.resolve();
self.onmessage = (event: MessageEvent<LmToWorker>) => {
  const message = event.data;
  queue = queue.then(async () => {
    try {
      if (message.type === 'train') await train(message);
      else if (message.type === 'generate') await generate(message);
      else if (message.type === 'save') await save();
      else await load(message.name, message.bytes);
    } catch (error) {
      post({ type: 'error', message: error instanceof Error ? error.message : String(error), noWebGpu: error instanceof NoAdapterError });
    }
  });
};

gpuReady().catch((error: unknown) => {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error), noWebGpu: error instanceof NoAdapterError });
});
