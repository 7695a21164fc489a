// Recurrent layers (SimpleRNN, LSTM) with backpropagation through time. Per sample the input is a
// sequence [T, features] (or a one-channel image [1, T, features], read row by row). Inside, the
// sequence is time-major: one GEMM projects every step's input, then one fused kernel per step
// applies the recurrence, all recorded in the step's single command buffer. Backward runs one
// fused kernel per step in reverse, then takes the weight, bias and input gradients over the whole
// sequence at once.
import { gemm } from '../kernels/gemm.ts';
import { biasGradient } from '../kernels/reduce.ts';
import { GATE_COUNT, recurrentStepBackward, recurrentStepForward, toBatchMajor, toTimeMajor, transposeMatrix, type CellKind, type RecurrentShape } from '../kernels/recurrent.ts';
import { formatShape } from '../graph/graph.ts';
import { Layer, op, type BuildContext, type LayerConfig, type ParamSpec, type Shape } from './layer.ts';

export interface RecurrentOptions {
  units: number;
  /** Output every step's hidden state [T, units] instead of the last one [units]. */
  returnSequences?: boolean;
  name?: string;
}

abstract class Recurrent extends Layer {
  abstract readonly cell: CellKind;
  readonly units: number;
  readonly returnSequences: boolean;

  constructor(o: RecurrentOptions) {
    super();
    if (!Number.isInteger(o.units) || o.units < 1) throw new Error(`${new.target.name}: units must be a positive integer, got ${o.units}`);
    this.units = o.units;
    this.returnSequences = o.returnSequences ?? false;
    this.name = o.name ?? '';
  }

  protected abstract readonly title: string;

  override config(): LayerConfig { return { type: this.title, name: this.name, units: this.units, returnSequences: this.returnSequences }; }

  override describe(): string { return `${this.title}(${this.units}${this.returnSequences ? ', sequences' : ''})`; }

  /** [steps, features] of a per-sample input [T, F] or [1, T, F]. */
  private sequence(input: Shape): [number, number] {
    const ok = input.length === 2 || (input.length === 3 && input[0] === 1);
    if (!ok) {
      throw new Error(`layer ${this.name} (${this.describe()}) expects a sequence [steps, features] or a one-channel image [1, steps, features], got input shape ${formatShape(input)}`);
    }
    return [input.at(-2)!, input.at(-1)!];
  }

  outputShape(input: Shape): Shape {
    const [steps] = this.sequence(input);
    return this.returnSequences ? [steps, this.units] : [this.units];
  }

  override params(input: Shape): ParamSpec[] {
    const [, features] = this.sequence(input);
    const rows = GATE_COUNT[this.cell] * this.units;
    const limit = 1 / Math.sqrt(this.units);
    // PyTorch's nn.LSTM/nn.RNN layout and init; the LSTM forget gate (second block) starts at bias 1.
    const forget = (value: number) => (this.cell === 'lstm' ? { constant: { start: this.units, count: this.units, value } } : {});
    return [
      { name: 'weight_ih', shape: [rows, features], init: { kind: 'uniform', limit } },
      { name: 'weight_hh', shape: [rows, this.units], init: { kind: 'uniform', limit } },
      { name: 'bias_ih', shape: [rows], init: { kind: 'uniform', limit, ...forget(1) } },
      { name: 'bias_hh', shape: [rows], init: { kind: 'uniform', limit, ...forget(0) } },
    ];
  }

  forward(ctx: BuildContext, input: number): number {
    const { graph, tape, batch } = ctx;
    const [steps, features] = this.sequence(graph.shape(input).slice(1));
    let x = input;
    if (graph.shape(input).length === 4) {
      x = graph.view(input, [batch, steps, features], `${this.name}.sequence`);
      tape.recordView(input, x);
    }
    const hidden = this.units;
    const rows = GATE_COUNT[this.cell] * hidden;
    const s: RecurrentShape = { cell: this.cell, batch, steps, hidden };
    const lstm = this.cell === 'lstm';
    const weightIh = ctx.param(this, 'weight_ih');
    const weightHh = ctx.param(this, 'weight_hh');
    const biasIh = ctx.param(this, 'bias_ih');
    const biasHh = ctx.param(this, 'bias_hh');
    const name = this.name;

    const xTime = graph.tensor(`${name}.x_time_major`, [steps, batch, features]);
    op(graph, `${name}.input.time_major`, [x], [xTime], (gpu, b) => toTimeMajor(gpu, { src: b(x), dst: b(xTime), batch, steps, width: features }));
    const xproj = graph.tensor(`${name}.xproj`, [steps, batch, rows]);
    op(graph, `${name}.input.projection`, [xTime, weightIh, biasIh], [xproj], (gpu, b) => gemm(gpu, {
      a: b(xTime), b: b(weightIh), c: b(xproj), m: steps * batch, n: rows, k: features, transB: true,
      bias: b(biasIh), biasAxis: 'n', label: `${name}.input.projection`,
    }));
    const weightHhT = graph.tensor(`${name}.weight_hh_transposed`, [hidden, rows]);
    op(graph, `${name}.weight_hh.transpose`, [weightHh], [weightHhT], (gpu, b) => transposeMatrix(gpu, { src: b(weightHh), dst: b(weightHhT), rows, cols: hidden }));
    const states = graph.tensor(`${name}.hidden_states`, [steps + 1, batch, hidden]);
    const cells = lstm ? graph.tensor(`${name}.cell_states`, [steps + 1, batch, hidden]) : undefined;
    const gates = lstm ? graph.tensor(`${name}.gates`, [steps, batch, rows]) : undefined;
    const saved = [cells, gates].filter((t) => t !== undefined);
    for (let t = 0; t < steps; t++) {
      op(graph, `${name}.step${t}`, [xproj, weightHhT, biasHh, states, ...saved], [states, ...saved], (gpu, b) => recurrentStepForward(gpu, s, t, {
        xproj: b(xproj), weightHhTransposed: b(weightHhT), biasHh: b(biasHh), hidden: b(states),
        ...(cells === undefined || gates === undefined ? {} : { cell: b(cells), gates: b(gates) }),
      }));
    }
    const outSteps = this.returnSequences ? steps : 1;
    const y = graph.tensor(`${name}.out`, this.returnSequences ? [batch, steps, hidden] : [batch, hidden]);
    // Hidden states of steps 1..T (or just T) back to batch-major for the next layer.
    const firstOut = (steps + 1 - outSteps) * batch * hidden;
    op(graph, `${name}.output`, [states], [y], (gpu, b) => toBatchMajor(gpu, { src: b(states), dst: b(y), batch, steps: outSteps, width: hidden, offset: firstOut }));

    tape.record([x, weightIh, weightHh, biasIh, biasHh], [y], (g) => {
      const dy = g.gradOf(y);
      let dySteps = dy;
      if (this.returnSequences) {
        dySteps = graph.tensor(`${name}.dy_time_major`, [steps, batch, hidden]);
        op(graph, `${name}.backward.dy.time_major`, [dy], [dySteps], (gpu, b) => toTimeMajor(gpu, { src: b(dy), dst: b(dySteps), batch, steps, width: hidden }));
      }
      const dgates = graph.tensor(`grad(${name}.gates)`, [steps, batch, rows]);
      const dcell = lstm ? graph.tensor(`grad(${name}.cell)`, [batch, hidden]) : undefined;
      const savedForBackward = lstm ? [cells!, gates!] : [states];
      const carried = dcell === undefined ? [dgates] : [dgates, dcell];
      for (let t = steps - 1; t >= 0; t--) {
        // With only the last state as output, the output gradient enters at the last step alone.
        const dyOffset = this.returnSequences ? t * batch * hidden : t === steps - 1 ? 0 : undefined;
        const reads = [weightHh, ...savedForBackward, ...carried, ...(dyOffset === undefined ? [] : [dySteps])];
        op(graph, `${name}.backward.step${t}`, reads, carried, (gpu, b) => recurrentStepBackward(gpu, s, t, {
          weightHh: b(weightHh), dgates: b(dgates),
          ...(lstm ? { cell: b(cells!), gates: b(gates!), dcell: b(dcell!) } : { hidden: b(states) }),
          ...(dyOffset === undefined ? {} : { dy: { buffer: b(dySteps), offset: dyOffset } }),
        }));
      }
      const sequenceRows = steps * batch;
      // Weight gradients are taken transposed (Xᵀ·dgates, Hᵀ·dgates) and turned back: the GEMM
      // kernels spread output columns over lanes, and G·H columns fill them where F or H would not.
      const weightGradient = (weight: number, label: string, input: number, width: number) => {
        if (!g.wants(weight)) return;
        const dw = g.gradTarget(weight);
        const dwT = graph.tensor(`grad(${name}.${label}).transposed`, [width, rows]);
        op(graph, `${name}.backward.${label}`, [dgates, input], [dwT], (gpu, b) => gemm(gpu, {
          a: b(input), b: b(dgates), c: b(dwT), m: width, n: rows, k: sequenceRows, transA: true, label: `${name}.backward.${label}`,
        }));
        op(graph, `${name}.backward.${label}.transpose`, [dwT], [dw], (gpu, b) => transposeMatrix(gpu, { src: b(dwT), dst: b(dw), rows: width, cols: rows }));
      };
      weightGradient(weightIh, 'weight_ih', xTime, features);
      // Rows 0..T-1 of the hidden states are h_{t-1} for every step t, in dgates' row order.
      weightGradient(weightHh, 'weight_hh', states, hidden);
      // Both biases add to the same pre-activation, so they share one gradient: reduce once, copy.
      const biasGrads = [biasIh, biasHh].filter((bias) => g.wants(bias)).map((bias) => g.gradTarget(bias));
      const [db, dbCopy] = biasGrads;
      if (db !== undefined) {
        op(graph, `${name}.backward.bias`, [dgates], [db], (gpu, b) => biasGradient(gpu, { dy: b(dgates), dbias: b(db), batch: sequenceRows, channels: rows, spatial: 1 }));
      }
      if (db !== undefined && dbCopy !== undefined) {
        op(graph, `${name}.backward.bias.copy`, [db], [dbCopy], (gpu, b) => toBatchMajor(gpu, { src: b(db), dst: b(dbCopy), batch: 1, steps: 1, width: rows }));
      }
      if (g.wants(x)) {
        const dxTime = graph.tensor(`grad(${name}.x_time_major)`, [steps, batch, features]);
        op(graph, `${name}.backward.input`, [dgates, weightIh], [dxTime], (gpu, b) => gemm(gpu, {
          a: b(dgates), b: b(weightIh), c: b(dxTime), m: sequenceRows, n: features, k: rows, label: `${name}.backward.input`,
        }));
        const dx = g.gradTarget(x);
        op(graph, `${name}.backward.input.batch_major`, [dxTime], [dx], (gpu, b) => toBatchMajor(gpu, { src: b(dxTime), dst: b(dx), batch, steps, width: features }));
      }
    });
    return y;
  }
}

/** Elman RNN with tanh: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), as PyTorch's nn.RNN. */
export class SimpleRNN extends Recurrent {
  readonly kind = 'rnn';
  readonly cell = 'rnn';
  protected readonly title = 'SimpleRNN';
}

/** LSTM with PyTorch's nn.LSTM gate order (i, f, g, o) and parameter layout. */
export class LSTM extends Recurrent {
  readonly kind = 'lstm';
  readonly cell = 'lstm';
  protected readonly title = 'LSTM';
}
