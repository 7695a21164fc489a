// Training progress for a terminal or a log file, written to any sink (standard output in Node).
//
//   const bar = new EpochProgress({ label: 'epoch 3/10', totalSteps, sink: stdout });
//   bar.update(step, imagesSoFar, runningLoss);   // cheap to call every step
//   bar.finish();                                 // then print formatEpochSummary(...)
//
// On a TTY one line is redrawn in place with "\r", at most every `redrawMs` (10 Hz): redrawing
// per step would cost more than a small step. Elsewhere (CI logs, files) a plain line is
// printed every `plainEveryMs`, since carriage returns turn logs into one enormous line.

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface EpochProgressOptions {
  label: string;
  totalSteps: number;
  sink: ProgressSink;
  /** Milliseconds clock; default performance.now. */
  now?: () => number;
  /** When the epoch began, on that clock, if before the bar was made; default now. */
  start?: number;
  redrawMs?: number;
  plainEveryMs?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const total = Math.max(0, Math.round(seconds));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

const BAR_WIDTH = 20;
const CLEAR_LINE = '\r\x1b[2K';

export class EpochProgress {
  private readonly now: () => number;
  private readonly start: number;
  private lastDraw = -Infinity;
  private drewBar = false;

  constructor(private readonly options: EpochProgressOptions) {
    this.now = options.now ?? (() => performance.now());
    this.start = options.start ?? this.now();
    if (this.options.sink.isTTY) this.lastDraw = this.start - (options.redrawMs ?? 100); // first update draws at once
    else this.lastDraw = this.start;
  }

  /** `step` steps and `images` images done so far in this epoch; `loss` the running loss, if known. */
  update(step: number, images: number, loss?: number): void {
    const now = this.now();
    const tty = this.options.sink.isTTY === true;
    const interval = tty ? (this.options.redrawMs ?? 100) : (this.options.plainEveryMs ?? 10_000);
    if (now - this.lastDraw < interval && !(tty && step === this.options.totalSteps)) return;
    this.lastDraw = now;
    const line = this.line(step, images, loss, (now - this.start) / 1000, tty);
    if (tty) {
      const columns = this.options.sink.columns ?? Infinity;
      this.options.sink.write(`\r${line.slice(0, Math.max(0, columns - 1))}`);
      this.drewBar = true;
    } else {
      this.options.sink.write(`${line}\n`);
    }
  }

  /** Clears the bar so the epoch summary takes its place. */
  finish(): void {
    if (this.drewBar) this.options.sink.write(CLEAR_LINE);
    this.drewBar = false;
  }

  private line(step: number, images: number, loss: number | undefined, seconds: number, bar: boolean): string {
    const total = this.options.totalSteps;
    const done = Math.min(1, total > 0 ? step / total : 1);
    const parts = [this.options.label];
    if (bar) {
      const filled = Math.round(done * BAR_WIDTH);
      parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`);
    }
    parts.push(`${String(step).padStart(String(total).length)}/${total}`);
    parts.push(`${seconds > 0 ? Math.round(images / seconds) : 0} img/s`);
    if (loss !== undefined) parts.push(`loss ${loss.toFixed(4)}`);
    parts.push(`ETA ${formatDuration(step > 0 ? (seconds / step) * (total - step) : Infinity)}`);
    return parts.join('  ');
  }
}

export interface EpochSummary {
  epoch: number;
  epochs: number;
  trainLoss: number;
  trainAccuracy: number;
  validationLoss?: number;
  validationAccuracy?: number;
  seconds: number;
  images?: number;
}

/**
 * "epoch  3/10  train loss 0.2314 acc 93.12%  val loss 0.2011 acc 94.05%  12.3 s  4871 img/s"; a task
 * without accuracy (NaN, e.g. regression) shows only the losses.
 */
export function formatEpochSummary(s: EpochSummary): string {
  const accuracy = (x: number) => (Number.isNaN(x) ? '' : ` acc ${(100 * x).toFixed(2)}%`);
  const parts = [`epoch ${String(s.epoch).padStart(String(s.epochs).length)}/${s.epochs}`, `train loss ${s.trainLoss.toFixed(4)}${accuracy(s.trainAccuracy)}`];
  if (s.validationLoss !== undefined && s.validationAccuracy !== undefined) {
    parts.push(`val loss ${s.validationLoss.toFixed(4)}${accuracy(s.validationAccuracy)}`);
  }
  parts.push(`${s.seconds.toFixed(1)} s`);
  if (s.images !== undefined && s.seconds > 0) parts.push(`${Math.round(s.images / s.seconds)} img/s`);
  return parts.join('  ');
}
