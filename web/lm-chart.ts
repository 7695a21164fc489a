// The language-model page's chart: train and held-out loss in nats per character against the step,
// on one axis from 0 to the largest loss seen.

export interface LossPoint { step: number; train: number; heldOut: number }

const TRAIN_COLOR = '#d9480f';
const HELD_OUT_COLOR = '#1c7ed6';

export function drawLossChart(canvas: HTMLCanvasElement, points: readonly LossPoint[], totalSteps: number): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  const { width, height } = canvas;
  const pad = { left: 44, right: 12, top: 12, bottom: 24 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  context.clearRect(0, 0, width, height);
  context.font = '11px system-ui, sans-serif';
  context.strokeStyle = '#ccc';
  context.strokeRect(pad.left, pad.top, plotW, plotH);
  const top = Math.max(1e-6, ...points.flatMap((p) => [p.train, p.heldOut]));
  const x = (step: number) => pad.left + (plotW * step) / Math.max(1, totalSteps);
  const y = (loss: number) => pad.top + plotH * (1 - loss / top);
  const legend: [string, string, (p: LossPoint) => number][] = [['train', TRAIN_COLOR, (p) => p.train], ['held-out', HELD_OUT_COLOR, (p) => p.heldOut]];
  legend.forEach(([label, color, value], i) => {
    context.strokeStyle = context.fillStyle = color;
    context.lineWidth = 2;
    context.beginPath();
    points.forEach((p, j) => (j === 0 ? context.moveTo(x(p.step), y(value(p))) : context.lineTo(x(p.step), y(value(p)))));
    context.stroke();
    context.textAlign = 'right';
    context.fillText(label, pad.left + plotW - 4, pad.top + 12 + 13 * i);
  });
  context.fillStyle = '#555';
  context.textAlign = 'right';
  context.fillText(top.toFixed(2), pad.left - 4, pad.top + 10);
  context.fillText('nats', pad.left - 4, pad.top + plotH / 2);
  context.fillText('0', pad.left - 4, pad.top + plotH);
  context.textAlign = 'center';
  context.fillText(`step (of ${totalSteps})`, pad.left + plotW / 2, height - 6);
}
