// Launchers for the recurrent step kernels (LSTM and SimpleRNN, forward and BPTT) and the layout
// changes between a layer's batch-major input/output and its time-major internal sequences.
import type { Gpu } from '../gpu/device.ts';
import { kernel, type BufferRef, type Dispatch } from '../gpu/kernel.ts';
import { swapOuterAxes } from './layout.ts';

export type CellKind = 'lstm' | 'rnn';

/** Gate blocks per hidden unit: LSTM i, f, g, o; SimpleRNN one pre-activation. */
export const GATE_COUNT: Record<CellKind, number> = { lstm: 4, rnn: 1 };

const WORKGROUP_SIZE = 64;
/** Batch rows per workgroup in the step kernels (the shader's ROWS override). */
const STEP_ROWS = 4;

export interface RecurrentShape {
  cell: CellKind;
  batch: number;
  steps: number;
  hidden: number;
}

function checkShape(s: RecurrentShape, step: number): void {
  for (const [name, value] of Object.entries({ batch: s.batch, steps: s.steps, hidden: s.hidden })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`recurrent: ${name} must be a positive integer, got ${value}`);
  }
  if (!Number.isInteger(step) || step < 0 || step >= s.steps) throw new Error(`recurrent: step ${step} is outside 0..${s.steps - 1}`);
}

/** Workgroups of the step kernels: WG units by STEP_ROWS batch rows each. */
function stepGrid(s: RecurrentShape): [number, number, number] {
  return [Math.ceil(s.hidden / WORKGROUP_SIZE), Math.ceil(s.batch / STEP_ROWS), 1];
}

function stepKernel(gpu: Gpu, entry: string) {
  return kernel(gpu, 'recurrent', entry, { ROWS: STEP_ROWS });
}

function stepParams(s: RecurrentShape, step: number, dyOffset = 0, hasDy = false) {
  return { batch: s.batch, steps: s.steps, step, width: s.hidden, offset: dyOffset, has_dy: Number(hasDy) };
}

export interface StepForwardIO {
  /** [T, B, G·H]: x·W_ihᵀ + bias_ih for every step. */
  xproj: BufferRef;
  /** W_hh transposed to [H, G·H] (transposeMatrix), so a step's weight loads are contiguous. */
  weightHhTransposed: BufferRef;
  biasHh: BufferRef;
  /** [T+1, B, H]: row 0 is written as the zero initial state at step 0; h_t goes to row t+1. */
  hidden: BufferRef;
  /** LSTM only: cell states [T+1, B, H] and gate activations [T, B, 4H] saved for BPTT. */
  cell?: BufferRef;
  gates?: BufferRef;
}

/** Time step `step` of the forward pass: one dispatch that reads h_{t-1} and writes h_t (and c_t). */
export function recurrentStepForward(gpu: Gpu, s: RecurrentShape, step: number, io: StepForwardIO): Dispatch[] {
  checkShape(s, step);
  const params = stepParams(s, step);
  const grid = stepGrid(s);
  const common = { xproj: io.xproj, weight_hh_t: io.weightHhTransposed, bias_hh: io.biasHh, hidden: io.hidden, params };
  if (s.cell === 'rnn') return [stepKernel(gpu, 'rnnStep').dispatch(common, grid, `rnnStep t=${step}`)];
  if (!io.cell || !io.gates) throw new Error('recurrentStepForward: an LSTM step needs cell and gates buffers');
  return [stepKernel(gpu, 'lstmStep').dispatch({ ...common, cell: io.cell, gates_out: io.gates }, grid, `lstmStep t=${step}`)];
}

export interface StepBackwardIO {
  weightHh: BufferRef;
  /** The forward pass's saved states: hidden (RNN) or cell and gates (LSTM). */
  hidden?: BufferRef;
  cell?: BufferRef;
  gates?: BufferRef;
  /** The gradient of h_t from the layer output, as [B, H] rows starting at element `offset`. */
  dy?: { buffer: BufferRef; offset: number };
  /** [T, B, G·H]: reads step t+1's rows, writes step t's. */
  dgates: BufferRef;
  /** LSTM only, [B, H]: dc_t in, dc_{t-1} out. */
  dcell?: BufferRef;
}

/** Backward through time step `step`; run for t = T-1 down to 0 so step t+1's gradients exist. */
export function recurrentStepBackward(gpu: Gpu, s: RecurrentShape, step: number, io: StepBackwardIO): Dispatch[] {
  checkShape(s, step);
  const params = stepParams(s, step, io.dy?.offset ?? 0, io.dy !== undefined);
  const grid = stepGrid(s);
  // Without an output gradient the shader never reads dy; W_hh (read-only too) fills the binding.
  const common = { weight_hh: io.weightHh, dy: io.dy?.buffer ?? io.weightHh, dgates: io.dgates, params };
  if (s.cell === 'rnn') {
    if (!io.hidden) throw new Error('recurrentStepBackward: an RNN step needs the saved hidden states');
    return [stepKernel(gpu, 'rnnStepBackward').dispatch({ ...common, hidden_in: io.hidden }, grid, `rnnStepBackward t=${step}`)];
  }
  if (!io.cell || !io.gates || !io.dcell) throw new Error('recurrentStepBackward: an LSTM step needs cell, gates and dcell buffers');
  return [stepKernel(gpu, 'lstmStepBackward').dispatch({ ...common, cell_in: io.cell, gates: io.gates, dcell: io.dcell }, grid, `lstmStepBackward t=${step}`)];
}

export interface LayoutIO {
  src: BufferRef;
  dst: BufferRef;
  batch: number;
  steps: number;
  /** Elements per (batch, step) row. */
  width: number;
}

/** [B, T, width] → [T, B, width]. */
export function toTimeMajor(gpu: Gpu, io: LayoutIO): Dispatch[] {
  return [swapOuterAxes(gpu, { src: io.src, dst: io.dst, outer: io.batch, inner: io.steps, width: io.width }, 'toTimeMajor')];
}

/** [T, B, width] read from element `offset` of src → [B, T, width]; T = 1 copies one step's rows. */
export function toBatchMajor(gpu: Gpu, io: LayoutIO & { offset?: number }): Dispatch[] {
  return [swapOuterAxes(gpu, { src: io.src, dst: io.dst, outer: io.steps, inner: io.batch, width: io.width, offset: io.offset ?? 0 }, 'toBatchMajor')];
}

/** [rows, cols] → [cols, rows]: the layout change with one element per row. */
export function transposeMatrix(gpu: Gpu, io: { src: BufferRef; dst: BufferRef; rows: number; cols: number }): Dispatch[] {
  return toTimeMajor(gpu, { src: io.src, dst: io.dst, batch: io.rows, steps: io.cols, width: 1 });
}
