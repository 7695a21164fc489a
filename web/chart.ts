// A small line chart on a canvas: training loss (left axis, from 0 to its largest value) and
// accuracy (right axis, 0–100%) against the step.

export interface ChartPoint { step: number; loss: number; accuracy: number }

const LOSS_COLOR = '#d9480f';
const ACCURACY_COLOR = '#1c7ed6';

export function drawChart(canvas: HTMLCanvasElement, points: readonly ChartPoint[], totalSteps: number): void {
  const context = canvas.getContext('2d');
  if (!context) return;
  const { width, height } = canvas;
  const pad = { left: 44, right: 44, top: 12, bottom: 24 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  context.clearRect(0, 0, width, height);
  context.font = '11px system-ui, sans-serif';
  context.strokeStyle = '#ccc';
  context.strokeRect(pad.left, pad.top, plotW, plotH);
  const maxLoss = Math.max(1e-6, ...points.map((p) => p.loss));
  const x = (step: number) => pad.left + (plotW * step) / Math.max(1, totalSteps);
  const series = (value: (p: ChartPoint) => number, top: number, color: string) => {
    context.strokeStyle = color;
    context.lineWidth = 2;
    context.beginPath();
    points.forEach((p, i) => {
      const y = pad.top + plotH * (1 - value(p) / top);
      if (i === 0) context.moveTo(x(p.step), y); else context.lineTo(x(p.step), y);
    });
    context.stroke();
  };
  series((p) => p.loss, maxLoss, LOSS_COLOR);
  series((p) => p.accuracy, 1, ACCURACY_COLOR);
  context.fillStyle = LOSS_COLOR;
  context.textAlign = 'right';
  context.fillText(maxLoss.toFixed(2), pad.left - 4, pad.top + 10);
  context.fillText('loss', pad.left - 4, pad.top + plotH / 2);
  context.fillText('0', pad.left - 4, pad.top + plotH);
  context.fillStyle = ACCURACY_COLOR;
  context.textAlign = 'left';
  context.fillText('100%', pad.left + plotW + 4, pad.top + 10);
  context.fillText('acc.', pad.left + plotW + 4, pad.top + plotH / 2);
  context.fillStyle = '#555';
  context.textAlign = 'center';
  context.fillText(`step (of ${totalSteps})`, pad.left + plotW / 2, height - 6);
}
