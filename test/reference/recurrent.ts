// Float64 references for the recurrent layers, sample by sample in PyTorch's formulation: the cells
// (LSTM gates i, f, g, o; tanh RNN), a whole sequence forward, and BPTT.
import { GATE_COUNT, type CellKind } from '../../src/kernels/recurrent.ts';

export interface RecurrentParams {
  /** [G·H, F], [G·H, H], [G·H], [G·H] with G = 4 (LSTM) or 1 (RNN). */
  weightIh: ArrayLike<number>;
  weightHh: ArrayLike<number>;
  biasIh: ArrayLike<number>;
  biasHh: ArrayLike<number>;
}

export interface SequenceShape {
  cell: CellKind;
  batch: number;
  steps: number;
  features: number;
  hidden: number;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** W_ih x + b_ih + W_hh h + b_hh for one sample: the G·H gate pre-activations. */
function preActivation(p: RecurrentParams, x: ArrayLike<number>, h: ArrayLike<number>, rows: number): Float64Array {
  const features = x.length, hidden = h.length;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = p.biasIh[r]! + p.biasHh[r]!;
    for (let k = 0; k < features; k++) sum += p.weightIh[r * features + k]! * x[k]!;
    for (let k = 0; k < hidden; k++) sum += p.weightHh[r * hidden + k]! * h[k]!;
    out[r] = sum;
  }
  return out;
}

export interface LstmCellResult { h: Float64Array; c: Float64Array; /** i, f, g, o after their nonlinearities. */ gates: Float64Array }

export function lstmCell(p: RecurrentParams, x: ArrayLike<number>, h: ArrayLike<number>, c: ArrayLike<number>): LstmCellResult {
  const hidden = h.length;
  const gates = preActivation(p, x, h, 4 * hidden);
  const hOut = new Float64Array(hidden), cOut = new Float64Array(hidden);
  for (let j = 0; j < hidden; j++) {
    const i = sigmoid(gates[j]!), f = sigmoid(gates[hidden + j]!), g = Math.tanh(gates[2 * hidden + j]!), o = sigmoid(gates[3 * hidden + j]!);
    gates[j] = i; gates[hidden + j] = f; gates[2 * hidden + j] = g; gates[3 * hidden + j] = o;
    cOut[j] = f * c[j]! + i * g;
    hOut[j] = o * Math.tanh(cOut[j]!);
  }
  return { h: hOut, c: cOut, gates };
}

export function rnnCell(p: RecurrentParams, x: ArrayLike<number>, h: ArrayLike<number>): Float64Array {
  return preActivation(p, x, h, h.length).map(Math.tanh);
}

interface StepRecord { x: Float64Array; hPrev: Float64Array; cPrev: Float64Array; h: Float64Array; c: Float64Array; gates: Float64Array }

function runSample(s: SequenceShape, p: RecurrentParams, x: ArrayLike<number>, b: number): StepRecord[] {
  const { steps, features, hidden } = s;
  let h: Float64Array = new Float64Array(hidden), c: Float64Array = new Float64Array(hidden);
  const records: StepRecord[] = [];
  for (let t = 0; t < steps; t++) {
    const start = (b * steps + t) * features;
    const xt = Float64Array.from({ length: features }, (_, k) => x[start + k]!);
    if (s.cell === 'lstm') {
      const r = lstmCell(p, xt, h, c);
      records.push({ x: xt, hPrev: h, cPrev: c, h: r.h, c: r.c, gates: r.gates });
      h = r.h; c = r.c;
    } else {
      const next = rnnCell(p, xt, h);
      records.push({ x: xt, hPrev: h, cPrev: c, h: next, c, gates: next });
      h = next;
    }
  }
  return records;
}

/** Every step's hidden state, batch-major [B, T, H], for input x [B, T, F] from zero initial states. */
export function recurrentForwardRef(s: SequenceShape, p: RecurrentParams, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(s.batch * s.steps * s.hidden);
  for (let b = 0; b < s.batch; b++) {
    runSample(s, p, x, b).forEach((r, t) => out.set(r.h, (b * s.steps + t) * s.hidden));
  }
  return out;
}

export interface RecurrentGradients {
  dx: Float64Array;
  dWeightIh: Float64Array;
  dWeightHh: Float64Array;
  dBiasIh: Float64Array;
  dBiasHh: Float64Array;
}

/** BPTT given the gradient of every step's hidden state dh [B, T, H] (zeros where a step is not an output). */
export function recurrentBackwardRef(s: SequenceShape, p: RecurrentParams, x: ArrayLike<number>, dh: ArrayLike<number>): RecurrentGradients {
  const { batch, steps, features, hidden } = s;
  const rows = GATE_COUNT[s.cell] * hidden;
  const grads: RecurrentGradients = {
    dx: new Float64Array(batch * steps * features), dWeightIh: new Float64Array(rows * features),
    dWeightHh: new Float64Array(rows * hidden), dBiasIh: new Float64Array(rows), dBiasHh: new Float64Array(rows),
  };
  for (let b = 0; b < batch; b++) {
    const records = runSample(s, p, x, b);
    let dhNext = new Float64Array(hidden), dcNext = new Float64Array(hidden);
    for (let t = steps - 1; t >= 0; t--) {
      const r = records[t]!;
      const dpre = new Float64Array(rows);
      const dcPrev = new Float64Array(hidden);
      for (let j = 0; j < hidden; j++) {
        const dhj = dh[(b * steps + t) * hidden + j]! + dhNext[j]!;
        if (s.cell === 'rnn') {
          dpre[j] = dhj * (1 - r.h[j]! ** 2);
          continue;
        }
        const i = r.gates[j]!, f = r.gates[hidden + j]!, g = r.gates[2 * hidden + j]!, o = r.gates[3 * hidden + j]!;
        const tc = Math.tanh(r.c[j]!);
        const dc = dcNext[j]! + dhj * o * (1 - tc * tc);
        dpre[j] = dc * g * i * (1 - i);
        dpre[hidden + j] = dc * r.cPrev[j]! * f * (1 - f);
        dpre[2 * hidden + j] = dc * i * (1 - g * g);
        dpre[3 * hidden + j] = dhj * tc * o * (1 - o);
        dcPrev[j] = dc * f;
      }
      const dhPrev = new Float64Array(hidden);
      for (let n = 0; n < rows; n++) {
        const d = dpre[n]!;
        grads.dBiasIh[n]! += d;
        grads.dBiasHh[n]! += d;
        for (let k = 0; k < features; k++) {
          grads.dWeightIh[n * features + k]! += d * r.x[k]!;
          grads.dx[(b * steps + t) * features + k]! += d * p.weightIh[n * features + k]!;
        }
        for (let k = 0; k < hidden; k++) {
          grads.dWeightHh[n * hidden + k]! += d * r.hPrev[k]!;
          dhPrev[k]! += d * p.weightHh[n * hidden + k]!;
        }
      }
      dhNext = dhPrev;
      dcNext = dcPrev;
    }
  }
  return grads;
}
