// The confusion matrix as an SVG heatmap: rows are true classes, columns predictions, each cell
// shows its count and is shaded by the fraction of its row (so a rare class's mistakes are as
// visible as a common one's).
//
//   confusionHeatmapSvg(matrix, classNames) → string
import type { ConfusionMatrix } from './metrics.ts';
import { escapeXml, px } from './svg.ts';

const CELL = 44;

export function confusionHeatmapSvg(matrix: ConfusionMatrix, classNames: string[]): string {
  const { classes, counts } = matrix;
  const names = Array.from({ length: classes }, (_, c) => classNames[c] ?? String(c));
  const longest = Math.max(...names.map((n) => n.length));
  const margin = { left: 40 + 7 * longest, top: 40, bottom: 36 + 5 * longest, right: 16 };
  const width = margin.left + classes * CELL + margin.right;
  const height = margin.top + classes * CELL + margin.bottom;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${px(margin.left + (classes * CELL) / 2)}" y="22" text-anchor="middle" font-weight="bold">Confusion matrix (rows: true, columns: predicted)</text>`,
  ];
  for (let t = 0; t < classes; t++) {
    let rowTotal = 0;
    for (let p = 0; p < classes; p++) rowTotal += counts[t * classes + p]!;
    for (let p = 0; p < classes; p++) {
      const count = counts[t * classes + p]!;
      const share = rowTotal ? count / rowTotal : 0;
      // White → dark blue; text flips to white once the cell is dark enough to hide black.
      const shade = (from: number, to: number) => Math.round(from + (to - from) * share);
      const fill = `rgb(${shade(255, 8)},${shade(255, 48)},${shade(255, 107)})`;
      const x = margin.left + p * CELL;
      const y = margin.top + t * CELL;
      parts.push(`<rect class="cell" data-true="${t}" data-predicted="${p}" x="${x}" y="${y}" width="${CELL}" height="${CELL}" fill="${fill}" stroke="#fff"/>`);
      parts.push(`<text x="${x + CELL / 2}" y="${y + CELL / 2 + 4}" text-anchor="middle" fill="${share > 0.5 ? 'white' : 'black'}">${count}</text>`);
    }
  }
  names.forEach((name, c) => {
    const centre = c * CELL + CELL / 2;
    parts.push(`<text x="${margin.left - 6}" y="${px(margin.top + centre + 4)}" text-anchor="end">${escapeXml(name)}</text>`);
    const bx = margin.left + centre;
    const by = margin.top + classes * CELL + 12;
    parts.push(`<text x="${px(bx)}" y="${by}" text-anchor="end" transform="rotate(-45 ${px(bx)} ${by})">${escapeXml(name)}</text>`);
  });
  parts.push(`<text x="${px(margin.left + (classes * CELL) / 2)}" y="${height - 8}" text-anchor="middle">predicted</text>`);
  const midY = margin.top + (classes * CELL) / 2;
  parts.push(`<text x="14" y="${px(midY)}" text-anchor="middle" transform="rotate(-90 14 ${px(midY)})">true</text>`);
  parts.push('</svg>', '');
  return parts.join('\n');
}
