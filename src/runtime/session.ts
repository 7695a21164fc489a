// The one object a run is set up through: it owns the device, times the GEMM variants once before
// anything can compile (a step bakes in the variant chosen for each product), uploads datasets and
// builds the compiled programs. The classes it hands out stay exported for callers who need more.
import { createGpu, type Gpu, type GpuOptions } from '../gpu/device.ts';
import { tuneGemm } from '../kernels/gemm.ts';
import { tuneConv } from '../kernels/conv_tune.ts';
import type { TuningOutcome } from '../kernels/tuning.ts';
import type { ImageSet } from '../data/idx.ts';
import type { Model } from '../model/model.ts';
import type { ChannelNormalization, GpuData, GpuDataset, GpuTensorDataset, GpuTokenDataset } from '../compiler/program.ts';
import { destroyDataset, tensorDataset, uploadDataset, uploadTokens, type FieldData } from './dataset.ts';
import type { UploadOptions } from './dataset-shards.ts';
import { Evaluator, ModelState, Trainer, type EvaluatorOptions, type ParameterBuffers, type TrainerOptions } from './runtime.ts';
import { fit, type FitOptions, type FitResult } from './fit.ts';
import { predict, type PredictInput, type PredictOptions } from './predict.ts';

export interface SessionOptions extends GpuOptions {
  /** A device already created (e.g. shared with other code); the session still tunes it and owns it from then on. */
  gpu?: Gpu;
  /** Called before the GEMM and convolution timing starts, which takes a few seconds on a device's first run. */
  onTuning?: (gpu: Gpu) => void;
  /**
   * Time implicit-GEMM convolution against each pass's default (default true). Without it every pass
   * keeps its default. A page may leave it out: a browser keeps tunings in memory only, so each page
   * load would time again, which on a software adapter takes minutes.
   */
  tuneConvolution?: boolean;
}

/** What each tuner did for this session (tuning.ts): 'unsteady' choices are kept for this process only. */
export interface SessionTuning { gemm: TuningOutcome; conv: TuningOutcome | 'skipped' }

/**
 * A line for a run's log when tuning was timed on a busy machine (its choices were not cached), else
 * null: cached or saved tunings need no word.
 */
export function unsteadyTuningNote(tuning: SessionTuning): string | null {
  const unsteady = (['gemm', 'conv'] as const).filter((tuner) => tuning[tuner] === 'unsteady');
  if (unsteady.length === 0) return null;
  return `tuning: the ${unsteady.join(' and ')} timings swung while something else was running, so the kernel choices hold for this run only and will be timed again next run (tune on an idle machine to keep them)`;
}

export class Session {
  private constructor(readonly gpu: Gpu, readonly tuning: SessionTuning) {}

  /** Opens the device and tunes GEMM and convolution for it (cached per adapter), so every program compiled later is tuned. */
  static async create(options: SessionOptions = {}): Promise<Session> {
    const { gpu: given, onTuning, tuneConvolution = true, ...gpuOptions } = options;
    const gpu = given ?? await createGpu(gpuOptions);
    onTuning?.(gpu);
    const gemm = await tuneGemm(gpu);
    const conv = tuneConvolution ? await tuneConv(gpu) : 'skipped';
    return new Session(gpu, { gemm, conv });
  }

  /** Labelled images, resident on the GPU. */
  upload(set: ImageSet, classes: number, name: string, options: UploadOptions = {}): GpuDataset {
    return uploadDataset(this.gpu, set, classes, name, options);
  }

  /** Named tensors (features, targets, ids), resident on the GPU. */
  uploadTensors(fields: Readonly<Record<string, FieldData>>, name: string, options: UploadOptions = {}): GpuTensorDataset {
    return tensorDataset(this.gpu, fields, name, options);
  }

  /** A token stream read as windows of `context` tokens. */
  uploadTokens(tokens: Uint32Array, o: { vocab: number; context: number; name: string }): GpuTokenDataset {
    return uploadTokens(this.gpu, tokens, o);
  }

  /** The model's parameters and state on the GPU (its initial values unless given). */
  state(model: Model, values?: ReadonlyMap<string, Float32Array>): ModelState {
    return new ModelState(this.gpu, model, values);
  }

  trainer(model: Model, state: ModelState, data: GpuData, options: TrainerOptions, optimizerState = new Map<string, GPUBuffer>()): Trainer {
    return new Trainer(this.gpu, model, state, data, optimizerState, options);
  }

  /** Forward-only programs over `data`; a QuantizedState with `{ int8: state.int8 }` runs them in int8. */
  evaluator(model: Model, state: ParameterBuffers, data: GpuData, batchSize: number, normalize?: ChannelNormalization, options: EvaluatorOptions = {}): Evaluator {
    return new Evaluator(this.gpu, model, state, data, batchSize, normalize, options);
  }

  fit(model: Model, state: ModelState, data: GpuData, options: FitOptions, existing?: Trainer): Promise<FitResult> {
    return fit(this.gpu, model, state, data, options, existing);
  }

  predict(model: Model, state: ModelState, x: PredictInput, options: PredictOptions = {}): Promise<Float32Array> {
    return predict(this.gpu, model, state, x, options);
  }

  destroyDataset(data: GpuData): void {
    destroyDataset(this.gpu, data);
  }

  destroy(): void {
    this.gpu.destroy();
  }
}
