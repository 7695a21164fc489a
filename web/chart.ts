// Small line charts on a canvas against the step: the MNIST page's training loss (left axis, from 0
// to its largest value) with accuracy (right axis, 0–100%), and the language-model page's train and
// held-out loss in nats per character on one axis. Both share the frame and the series drawing.

export interface ChartPoint { step: number; loss: number; accuracy: number }
export interface LossPoint { step: number; train: number; heldOut: number }

const ORANGE = '#d9480f';
const BLUE = '#1c7ed6';

interface Frame {
  context: CanvasRenderingContext2D;
  pad: { left: number; right: number; top: number; bottom: number };
  plotW: number;
  plotH: number;
  /** Draws one series scaled so that `top` is the plot's top edge. */
  series<P extends { step: number }>(points: readonly P[], value: (p: P) => number, top: number, color: string): void;
}

/** Clears the canvas, draws the plot box and the step label; null where the canvas has no 2-D context. */
function frame(canvas: HTMLCanvasElement, totalSteps: number, right: number): Frame | null {
  const context = canvas.getContext('2d');
  if (!context) return null;
  const { width, height } = canvas;
  const pad = { left: 44, right, top: 12, bottom: 24 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  context.clearRect(0, 0, width, height);
  context.font = '11px system-ui, sans-serif';
  context.strokeStyle = '#ccc';
  context.strokeRect(pad.left, pad.top, plotW, plotH);
  context.fillStyle = '#555';
  context.textAlign = 'center';
  context.fillText(`step (of ${totalSteps})`, pad.left + plotW / 2, height - 6);
  const x = (step: number) => pad.left + (plotW * step) / Math.max(1, totalSteps);
  const series: Frame['series'] = (points, value, top, color) => {
    context.strokeStyle = color;
    context.lineWidth = 2;
    context.beginPath();
    points.forEach((p, i) => {
      const y = pad.top + plotH * (1 - value(p) / top);
      if (i === 0) context.moveTo(x(p.step), y); else context.lineTo(x(p.step), y);
    });
    context.stroke();
  };
  return { context, pad, plotW, plotH, series };
}

/** The left axis's top value, its name and 0, in `color`. */
function leftAxis(f: Frame, top: number, name: string, color: string): void {
  const { context, pad, plotH } = f;
  context.fillStyle = color;
  context.textAlign = 'right';
  context.fillText(top.toFixed(2), pad.left - 4, pad.top + 10);
  context.fillText(name, pad.left - 4, pad.top + plotH / 2);
  context.fillText('0', pad.left - 4, pad.top + plotH);
}

export function drawChart(canvas: HTMLCanvasElement, points: readonly ChartPoint[], totalSteps: number): void {
  const f = frame(canvas, totalSteps, 44);
  if (!f) return;
  const maxLoss = Math.max(1e-6, ...points.map((p) => p.loss));
  f.series(points, (p) => p.loss, maxLoss, ORANGE);
  f.series(points, (p) => p.accuracy, 1, BLUE);
  leftAxis(f, maxLoss, 'loss', ORANGE);
  const { context, pad, plotW, plotH } = f;
  context.fillStyle = BLUE;
  context.textAlign = 'left';
  context.fillText('100%', pad.left + plotW + 4, pad.top + 10);
  context.fillText('acc.', pad.left + plotW + 4, pad.top + plotH / 2);
}

export function drawLossChart(canvas: HTMLCanvasElement, points: readonly LossPoint[], totalSteps: number): void {
  const f = frame(canvas, totalSteps, 12);
  if (!f) return;
  const top = Math.max(1e-6, ...points.flatMap((p) => [p.train, p.heldOut]));
  const { context, pad, plotW } = f;
  const legend: [string, string, (p: LossPoint) => number][] = [['train', ORANGE, (p) => p.train], ['held-out', BLUE, (p) => p.heldOut]];
  legend.forEach(([label, color, value], i) => {
    f.series(points, value, top, color);
    context.fillStyle = color;
    context.textAlign = 'right';
    context.fillText(label, pad.left + plotW - 4, pad.top + 12 + 13 * i);
  });
  leftAxis(f, top, 'nats', '#555');
}
