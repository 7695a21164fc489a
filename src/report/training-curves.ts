// Training curves as one SVG: loss (left panel) and accuracy (right panel) per epoch, train and
// validation, with axes, ticks and a legend. Plain SVG 1.1 so browsers and image viewers show it.
//
//   trainingCurvesSvg(history, { xLabel?, lossBaseline? }) → string, history = one EpochSummary-like record per
//   epoch (or per evaluation, xLabel 'step'); lossBaseline draws a loss to beat as a dashed level line
import type { EpochSummary } from './progress.ts';
import { escapeXml, niceTicks, px, tickLabel } from './svg.ts';

export type EpochHistory = Array<Pick<EpochSummary, 'epoch' | 'trainLoss' | 'trainAccuracy' | 'validationLoss' | 'validationAccuracy'>>;

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  /** A level drawn dashed, without point markers. */
  dashed?: boolean;
}

const PANEL = { width: 380, height: 280, left: 56, right: 16, top: 34, bottom: 44 };
const COLORS = { train: '#1f77b4', validation: '#ff7f0e', baseline: '#2ca02c' };

/** Legend corner: where the curves are not (loss falls away from the top right, accuracy rises away from the bottom right). */
type Corner = 'top' | 'bottom';

function panel(title: string, axes: { x: string; y: string }, series: Series[], offsetX: number, legend: Corner, yFloor?: number): string {
  const xs = series.flatMap((s) => s.points.map(([x]) => x));
  const ys = series.flatMap((s) => s.points.map(([, y]) => y));
  const xAxis = niceTicks(Math.min(...xs), Math.max(Math.max(...xs), Math.min(...xs) + 1), Math.min(8, Math.max(...xs)));
  const xStep = Math.max(1, xAxis.step); // epochs are whole numbers
  const xTicks = xAxis.ticks.filter((t) => Number.isInteger(t / xStep));
  const yAxis = niceTicks(yFloor !== undefined ? Math.min(yFloor, ...ys) : Math.min(...ys), Math.max(...ys));
  const plotW = PANEL.width - PANEL.left - PANEL.right;
  const plotH = PANEL.height - PANEL.top - PANEL.bottom;
  const x = (v: number) => offsetX + PANEL.left + ((v - xAxis.min) / (xAxis.max - xAxis.min)) * plotW;
  const y = (v: number) => PANEL.top + plotH - ((v - yAxis.min) / (yAxis.max - yAxis.min)) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${px(offsetX + PANEL.left + plotW / 2)}" y="20" text-anchor="middle" font-weight="bold">${escapeXml(title)}</text>`);
  for (const t of yAxis.ticks) {
    parts.push(`<line x1="${px(x(xAxis.min))}" x2="${px(x(xAxis.max))}" y1="${px(y(t))}" y2="${px(y(t))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${px(x(xAxis.min) - 6)}" y="${px(y(t) + 4)}" text-anchor="end">${tickLabel(t, yAxis.step)}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${px(x(t))}" x2="${px(x(t))}" y1="${px(y(yAxis.min))}" y2="${px(y(yAxis.min) + 5)}" stroke="#333"/>`);
    parts.push(`<text x="${px(x(t))}" y="${px(y(yAxis.min) + 18)}" text-anchor="middle">${tickLabel(t, xStep)}</text>`);
  }
  parts.push(`<rect x="${px(x(xAxis.min))}" y="${PANEL.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${px(offsetX + PANEL.left + plotW / 2)}" y="${PANEL.height - 6}" text-anchor="middle">${escapeXml(axes.x)}</text>`);
  const midY = PANEL.top + plotH / 2;
  parts.push(`<text x="${px(offsetX + 14)}" y="${px(midY)}" text-anchor="middle" transform="rotate(-90 ${px(offsetX + 14)} ${px(midY)})">${escapeXml(axes.y)}</text>`);
  const legendX = offsetX + PANEL.width - PANEL.right - 96;
  const legendTop = legend === 'top' ? PANEL.top + 4 : PANEL.top + plotH - 8 - 16 * series.length;
  parts.push(`<rect x="${legendX - 6}" y="${legendTop}" width="94" height="${16 * series.length + 4}" fill="white" fill-opacity="0.85" stroke="#ccc"/>`);
  series.forEach((s, i) => {
    const points = s.points.map(([epoch, value]) => `${px(x(epoch))},${px(y(value))}`).join(' ');
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<polyline class="series" data-name="${escapeXml(s.name)}" points="${points}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    if (!s.dashed) for (const [epoch, value] of s.points) parts.push(`<circle cx="${px(x(epoch))}" cy="${px(y(value))}" r="2.5" fill="${s.color}"/>`);
    const legendY = legendTop + 14 + 16 * i;
    parts.push(`<line x1="${legendX}" x2="${legendX + 18}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${legendX + 24}" y="${legendY}">${escapeXml(s.name)}</text>`);
  });
  return parts.join('\n');
}

export interface CurveOptions {
  /** What `epoch` counts in `history`; default epoch (a language model's curves are per step). */
  xLabel?: string;
  /** A loss to beat (a baseline model's), drawn across the loss panel. */
  lossBaseline?: { name: string; loss: number };
}

export function trainingCurvesSvg(history: EpochHistory, options: CurveOptions = {}): string {
  if (history.length === 0) throw new Error('trainingCurvesSvg: no epochs to draw');
  const series = (pick: (h: EpochHistory[number]) => number | undefined, name: string, color: string): Series[] => {
    const points = history.flatMap((h): Array<[number, number]> => {
      const value = pick(h);
      return value === undefined ? [] : [[h.epoch, value]];
    });
    return points.length ? [{ name, color, points }] : [];
  };
  const xs = history.map((h) => h.epoch);
  const base = options.lossBaseline;
  const baseline: Series[] = base ? [{ name: base.name, color: COLORS.baseline, points: [[Math.min(...xs), base.loss], [Math.max(...xs), base.loss]], dashed: true }] : [];
  const loss = [...series((h) => h.trainLoss, 'train', COLORS.train), ...series((h) => h.validationLoss, 'validation', COLORS.validation), ...baseline];
  const xLabel = options.xLabel ?? 'epoch';
  const accuracy = [...series((h) => h.trainAccuracy, 'train', COLORS.train), ...series((h) => h.validationAccuracy, 'validation', COLORS.validation)];
  const width = 2 * PANEL.width;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL.height}" viewBox="0 0 ${width} ${PANEL.height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${PANEL.height}" fill="white"/>`,
    panel('Loss', { x: xLabel, y: 'cross-entropy' }, loss, 0, 'top', 0),
    panel('Accuracy', { x: xLabel, y: 'accuracy' }, accuracy, PANEL.width, 'bottom'),
    '</svg>',
    '',
  ].join('\n');
}
