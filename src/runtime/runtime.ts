// Running compiled programs: parameter buffers, the per-step record-and-submit, asynchronous metric
// snapshots (no readback on the hot path), and evaluation over a dataset.
import type { Gpu } from '../gpu/device.ts';
import { encodeDispatches, type Dispatch } from '../gpu/kernel.ts';
import { readFloat32, readUint32, storageBuffer, writeBuffer } from '../gpu/buffers.ts';
import { writeHyper } from '../kernels/optimizer.ts';
import { elementCount, formatShape } from '../graph/graph.ts';
import { createLossScaleState, encodeLossScaleState, readLossScale, type LossScaleState } from '../kernels/loss_scale.ts';
import { compileProgram, mixedPrecisionRule, type ChannelNormalization, type GpuData, type MemoryReport, type Program, type ProgramOptions } from '../compiler/program.ts';
import { checkTokenStarts } from '../compiler/input.ts';
import { learningRate, type Schedule } from '../optim/optim.ts';
import type { Model } from '../model/model.ts';

/** Parameters and persistent state (batch-norm running stats) of a model, on the GPU. */
/** The parameter and state buffers a program binds, by tensor name. */
export interface ParameterBuffers { readonly buffers: ReadonlyMap<string, GPUBuffer> }

export class ModelState implements ParameterBuffers {
  readonly buffers = new Map<string, GPUBuffer>();

  constructor(readonly gpu: Gpu, readonly model: Model, values: ReadonlyMap<string, Float32Array> = model.initialValues(0)) {
    for (const spec of [...model.parameterSpecs(), ...model.stateSpecs()]) {
      this.buffers.set(spec.name, storageBuffer(gpu, elementCount(spec.shape) * 4, spec.name));
    }
    this.load(values);
  }

  /** Writes every tensor; a set that does not fit lists each missing, unexpected and mis-shaped tensor. */
  load(values: ReadonlyMap<string, Float32Array>): void {
    const specs = [...this.model.parameterSpecs(), ...this.model.stateSpecs()];
    const missing = specs.filter((s) => !values.has(s.name)).map((s) => s.name);
    const unexpected = [...values.keys()].filter((k) => !this.buffers.has(k));
    const misShaped = specs.filter((s) => values.has(s.name) && values.get(s.name)!.length !== elementCount(s.shape))
      .map((s) => `${s.name} (model ${formatShape(s.shape)} = ${elementCount(s.shape)} values, given ${values.get(s.name)!.length})`);
    if (missing.length || unexpected.length || misShaped.length) {
      throw new Error(`weights do not fit the model: missing [${missing.join(', ')}]; unexpected [${unexpected.join(', ')}]; mis-shaped [${misShaped.join(', ')}]`);
    }
    for (const spec of specs) writeBuffer(this.gpu, this.buffers.get(spec.name)!, values.get(spec.name)!);
  }

  async read(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, buffer] of this.buffers) {
      const spec = [...this.model.parameterSpecs(), ...this.model.stateSpecs()].find((s) => s.name === name)!;
      out.set(name, await readFloat32(this.gpu, buffer, elementCount(spec.shape)));
    }
    return out;
  }

  destroy(): void {
    for (const buffer of this.buffers.values()) this.gpu.destroyBuffer(buffer);
  }
}

export interface Totals {
  /** The mean loss over the rows summed. */
  loss: number;
  /** Classification: the share of rows whose argmax is right; multi-label: the mean per-label accuracy; NaN for other tasks. */
  accuracy: number;
  rows: number;
  nonFinite: number;
  /**
   * The task's metrics by name: accuracy (classification); accuracy and accuracy[i] per label
   * (multi-label, a logit > 0 read as 1); mse and mae (regression); none for a drawn loss.
   */
  metrics: Record<string, number>;
}

/** Reads a program's totals layout (see Program.totals) into means over its rows. */
function totalsFrom(raw: Float32Array, program: Pick<Program, 'metricNames' | 'task'>): Totals {
  const rows = raw[2]!;
  const mean = (sum: number) => (rows ? sum / rows : 0);
  const hasAccuracy = program.task === 'classification' || program.task === 'multi-label';
  const metrics: Record<string, number> = hasAccuracy ? { accuracy: mean(raw[1]!) } : {};
  program.metricNames.forEach((name, i) => { metrics[name] = mean(raw[4 + i]!); });
  return { loss: mean(raw[0]!), accuracy: hasAccuracy ? mean(raw[1]!) : NaN, rows, nonFinite: raw[3]!, metrics };
}

/** Training ran away: the loss grew far past where training starts (see FitOptions.divergenceFactor). */
export class DivergenceError extends Error {}
/** The far end of divergence: the loss overflowed to Inf or became NaN. */
export class NonFiniteLossError extends DivergenceError {}

/** Keeps the CPU at most `depth` submissions ahead of the GPU, without reading anything back. */
class SubmitThrottle {
  private readonly pending: Promise<unknown>[] = [];
  constructor(private readonly gpu: Gpu, private readonly depth = 2) {}

  async after(): Promise<void> {
    this.pending.push(this.gpu.device.queue.onSubmittedWorkDone());
    while (this.pending.length > this.depth) await this.gpu.guard(this.pending.shift()!);
  }

  async drain(): Promise<void> {
    while (this.pending.length) await this.gpu.guard(this.pending.shift()!);
  }
}

export interface TrainerOptions extends Omit<ProgramOptions, 'training' | 'batch' | 'lossScaleState'> {
  batchSize: number;
  seed: number;
  schedule?: Schedule;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Copy the running totals to a staging buffer every N steps (read when the GPU gets there). */
  metricsEvery?: number;
  /**
   * The size of a short last batch to compile a second step for up front (sharing the parameters,
   * optimizer state and totals). A step of any other size below batchSize compiles its own on first use.
   */
  remainderBatch?: number;
}

export interface Snapshot extends Totals { step: number }

/** One compiled training step: `await trainer.step(indices)` records one command buffer and submits it once. */
export class Trainer {
  /** The step for full batches; `programs` also holds those compiled for short batches. */
  readonly program: Program;
  readonly programs = new Map<number, Program>();
  /** Dispatches recorded after every step's updates, whichever batch size it has (e.g. pruning masks). */
  readonly afterUpdate: Dispatch[] = [];
  /** Steps completed so far (also Adam's t and the RNG step); restored on resume. */
  stepCount = 0;
  submits = 0;
  /**
   * CPU milliseconds spent recording steps (the executor's own overhead). Submission is left out:
   * on Dawn's GL backend queue.submit() itself runs the GL commands, so it is GPU time there.
   */
  recordMs = 0;
  latest: Snapshot | null = null;
  /** With mixedPrecision: the dynamic loss scale's GPU state, shared by every batch size's program. */
  readonly lossScaleState?: GPUBuffer;
  private clearTotals = true;
  private fault: Error | null = null;
  private readonly staging: { buffer: GPUBuffer; busy: boolean }[];
  private readonly throttle: SubmitThrottle;
  private readonly baseLr: number;

  constructor(readonly gpu: Gpu, readonly model: Model, readonly state: ModelState, readonly data: GpuData,
    readonly optimizerState: Map<string, GPUBuffer>, readonly options: TrainerOptions) {
    if (!options.optimizer) throw new Error('Trainer needs an optimizer');
    this.baseLr = options.optimizer.lr;
    const scaling = mixedPrecisionRule(options.mixedPrecision);
    if (scaling) this.lossScaleState = createLossScaleState(gpu, scaling, 'trainer.lossScale');
    this.program = this.compile(options.batchSize);
    const remainder = options.remainderBatch;
    if (remainder !== undefined) {
      if (!Number.isInteger(remainder) || remainder < 1 || remainder >= options.batchSize) throw new Error(`Trainer: remainderBatch must be an integer in 1..${options.batchSize - 1}, got ${remainder}`);
      this.compile(remainder);
    }
    this.staging = Array.from({ length: 3 }, (_, i) => ({
      buffer: gpu.createBuffer({ label: `metrics.staging${i}`, size: this.program.totalsLength * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
      busy: false,
    }));
    this.throttle = new SubmitThrottle(gpu);
  }

  /** The step for `batch` rows, compiled once; every size shares the parameters, optimizer state and totals. */
  private compile(batch: number): Program {
    let p = this.programs.get(batch);
    if (!p) {
      p = compileProgram(this.gpu, this.model, this.data, this.state.buffers, this.optimizerState, {
        ...this.options, batch, training: true, ...(this.programs.size ? { totals: this.program.totals } : {}),
        ...(this.lossScaleState ? { lossScaleState: this.lossScaleState } : {}),
      });
      this.programs.set(batch, p);
    }
    return p;
  }

  get memory(): MemoryReport {
    return this.program.memory;
  }

  /** The schedule's rate times this factor (lowered by fit's reduceLrOnPlateau), floored at `lrFloor` once lowered. */
  private lrFactor = 1;
  private lrFloor = 0;

  learningRate(step = this.stepCount): number {
    const o = this.options;
    const scheduled = learningRate(o.schedule ?? { kind: 'constant' }, this.baseLr, step, o.stepsPerEpoch, o.totalSteps) * this.lrFactor;
    return this.lrFactor < 1 ? Math.max(scheduled, this.lrFloor) : scheduled;
  }

  /** Multiplies every later step's learning rate by `factor`, never below `minLr` (Keras's ReduceLROnPlateau). Not saved in checkpoints. */
  scaleLearningRate(factor: number, minLr = 0): void {
    if (!(factor > 0 && factor < 1)) throw new Error(`scaleLearningRate: factor must be in (0, 1), got ${factor}`);
    this.lrFactor *= factor;
    this.lrFloor = minLr;
  }

  /** Zeroes the loss/accuracy totals with the next step (call at the start of an epoch). */
  resetTotals(): void {
    this.clearTotals = true;
  }

  async step(indices: Uint32Array): Promise<void> {
    this.gpu.check();
    if (this.fault) throw this.fault;
    const started = performance.now();
    const { gpu } = this;
    if (!(indices.length >= 1 && indices.length <= this.options.batchSize)) throw new Error(`step: expected 1..${this.options.batchSize} indices, got ${indices.length}`);
    const program = this.compile(indices.length);
    if (this.data.kind === 'tokens') checkTokenStarts(this.data, indices);
    const queue = gpu.device.queue;
    writeBuffer(gpu, program.inputs.indices, indices);
    queue.writeBuffer(program.inputs.seed, 0, new Uint32Array([this.options.seed, this.stepCount]));
    const lr = this.learningRate();
    for (const h of program.inputs.hyper) writeBuffer(gpu, h.buffer, writeHyper(lr * h.multiplier, this.stepCount + 1));
    const encoder = gpu.device.createCommandEncoder({ label: `train step ${this.stepCount}` });
    if (this.clearTotals) encoder.clearBuffer(program.totals);
    this.clearTotals = false;
    encodeDispatches(encoder, program.dispatches, 'train step');
    if (this.afterUpdate.length) encodeDispatches(encoder, this.afterUpdate, 'train step');
    this.stepCount++;
    const every = this.options.metricsEvery ?? 50;
    const slot = this.stepCount % every === 0 ? this.staging.find((s) => !s.busy) : undefined;
    if (slot) encoder.copyBufferToBuffer(program.totals, 0, slot.buffer, 0, program.totalsLength * 4);
    const commands = encoder.finish();
    this.recordMs += performance.now() - started;
    queue.submit([commands]);
    this.submits++;
    if (slot) this.readSnapshot(slot, this.stepCount);
    await this.throttle.after();
  }

  private readSnapshot(slot: { buffer: GPUBuffer; busy: boolean }, step: number): void {
    slot.busy = true;
    slot.buffer.mapAsync(GPUMapMode.READ).then(() => {
      const totals = totalsFrom(new Float32Array(slot.buffer.getMappedRange().slice(0)), this.program);
      slot.buffer.unmap();
      slot.busy = false;
      if (!this.latest || step > this.latest.step) this.latest = { ...totals, step };
      if (totals.nonFinite > 0 && !this.fault) {
        this.fault = new NonFiniteLossError(`the loss became NaN or infinite by step ${step} (checked every ${this.options.metricsEvery ?? 50} steps); lower the learning rate or enable gradient clipping (--clip-norm)`);
      }
    }, () => { slot.busy = false; });
  }

  /**
   * With mixedPrecision: the loss scale, its clean-step count and the steps skipped so far (one
   * small readback, after the steps already submitted); undefined without.
   */
  async lossScale(): Promise<LossScaleState | undefined> {
    if (!this.lossScaleState) return undefined;
    await this.throttle.drain();
    return readLossScale(this.gpu, this.lossScaleState);
  }

  /** Restores a saved loss scale (a checkpoint's), so a resumed run scales as the saved one would have. */
  setLossScale(state: Omit<LossScaleState, 'foundNonFinite'>): void {
    if (!this.lossScaleState) throw new Error('setLossScale: this trainer was compiled without mixedPrecision');
    writeBuffer(this.gpu, this.lossScaleState, encodeLossScaleState(state));
  }

  /** Waits for the GPU and returns loss/accuracy over the steps since the last reset. */
  async totals(): Promise<Totals> {
    await this.throttle.drain();
    const totals = totalsFrom(await readFloat32(this.gpu, this.program.totals, this.program.totalsLength), this.program);
    if (totals.nonFinite > 0) {
      throw new NonFiniteLossError(`the loss became NaN or infinite by step ${this.stepCount}; lower the learning rate or enable gradient clipping (--clip-norm)`);
    }
    return totals;
  }

  destroy(): void {
    for (const p of this.programs.values()) for (const b of p.owned) this.gpu.destroyBuffer(b);
    for (const s of this.staging) this.gpu.destroyBuffer(s.buffer);
    if (this.lossScaleState) this.gpu.destroyBuffer(this.lossScaleState);
  }
}

export interface Evaluation extends Totals {
  /** Classification: the argmax class of each loss row; empty for other tasks. */
  predictions: Uint32Array;
}

/** What an Evaluator reads besides the dataset: the ProgramOptions that pick inputs, target and loss. */
export interface EvaluatorOptions extends Pick<ProgramOptions, 'loss' | 'inputs' | 'target' | 'int8'> {
  /** Leave out a short last batch instead of evaluating it (default false: every index counts). */
  dropRemainder?: boolean;
}

/**
 * Forward-only programs (no dropout, batch norm on running stats) that cover a dataset exactly,
 * one per batch size met (so a short last batch is a program of its size), all adding into one
 * totals buffer. On a token dataset each index is a window's start and yields one loss row (and
 * prediction) per token.
 */
export class Evaluator {
  private readonly programs = new Map<number, Program>();
  private readonly throttle: SubmitThrottle;
  /** Loss rows per index: 1 for images, the window length for tokens. */
  private readonly rowsPerIndex: number;

  constructor(readonly gpu: Gpu, readonly model: Model, readonly state: ParameterBuffers, readonly data: GpuData,
    readonly batchSize: number, readonly normalize?: ChannelNormalization, readonly options: EvaluatorOptions = {}) {
    this.rowsPerIndex = data.kind === 'tokens' ? data.context : 1;
    this.throttle = new SubmitThrottle(gpu);
  }

  private program(batch: number): Program {
    let p = this.programs.get(batch);
    if (!p) {
      const { loss, inputs, target, int8 } = this.options;
      const first = this.programs.values().next().value;
      p = compileProgram(this.gpu, this.model, this.data, this.state.buffers, new Map(), {
        batch, training: false, keepLogits: true, ...(this.normalize ? { normalize: this.normalize } : {}),
        ...(loss ? { loss } : {}), ...(inputs ? { inputs } : {}), ...(target ? { target } : {}), ...(int8 ? { int8 } : {}), ...(first ? { totals: first.totals } : {}),
      });
      this.programs.set(batch, p);
    }
    return p;
  }

  /** The indices evaluated: all of them, or only whole batches with dropRemainder. */
  private covered(indices: Uint32Array): Uint32Array {
    return this.options.dropRemainder ? indices.subarray(0, indices.length - (indices.length % this.batchSize)) : indices;
  }

  /** Runs every batch of `indices`, copying `pick(program)` (bytes per index) into one buffer. */
  private async run(indices: Uint32Array, rowBytes: number, pick: (p: Program) => GPUBuffer | undefined): Promise<{ all: GPUBuffer; first?: Program }> {
    const { gpu } = this;
    if (this.data.kind === 'tokens') checkTokenStarts(this.data, indices);
    const all = gpu.createBuffer({ label: 'eval.rows', size: Math.max(4, indices.length * rowBytes), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC | GPUBufferUsage.STORAGE });
    let first: Program | undefined;
    for (let start = 0; start < indices.length; start += this.batchSize) {
      const batch = Math.min(this.batchSize, indices.length - start);
      const p = this.program(batch);
      writeBuffer(gpu, p.inputs.indices, indices.subarray(start, start + batch));
      const encoder = gpu.device.createCommandEncoder({ label: 'eval step' });
      if (!first) encoder.clearBuffer(p.totals);
      first ??= p;
      encodeDispatches(encoder, p.dispatches, 'eval step');
      const source = pick(p);
      if (source) encoder.copyBufferToBuffer(source, 0, all, start * rowBytes, batch * rowBytes);
      gpu.device.queue.submit([encoder.finish()]);
      await this.throttle.after();
    }
    await this.throttle.drain();
    return { all, ...(first ? { first } : {}) };
  }

  /** The model's outputs before any final Softmax, indices.length × the output shape. */
  async logits(indices: Uint32Array): Promise<Float32Array> {
    const covered = this.covered(indices);
    const perIndex = elementCount(this.model.outputShape);
    const { all } = await this.run(covered, perIndex * 4, (p) => p.logits!);
    try {
      return await readFloat32(this.gpu, all, covered.length * perIndex);
    } finally {
      this.gpu.destroyBuffer(all);
    }
  }

  async evaluate(indices: Uint32Array): Promise<Evaluation> {
    const { gpu } = this;
    const covered = this.covered(indices);
    const { all, first } = await this.run(covered, this.rowsPerIndex * 4, (p) => p.predictions);
    try {
      if (!first) return { loss: 0, accuracy: NaN, rows: 0, nonFinite: 0, metrics: {}, predictions: new Uint32Array(0) };
      if (first.task === undefined) throw new Error(`Evaluator: nothing to evaluate against: dataset ${this.data.name} has no target field, or an f32 target and no loss named (options.loss)`);
      const totals = totalsFrom(await readFloat32(gpu, first.totals, first.totalsLength), first);
      const predictions = first.predictions ? await readUint32(gpu, all, covered.length * this.rowsPerIndex) : new Uint32Array(0);
      return { ...totals, predictions };
    } finally {
      gpu.destroyBuffer(all);
    }
  }

  destroy(): void {
    for (const p of this.programs.values()) for (const b of p.owned) this.gpu.destroyBuffer(b);
    this.programs.clear();
  }
}
