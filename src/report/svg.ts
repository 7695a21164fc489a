// Small pieces shared by the SVG reports: text escaping and "nice" axis ticks.

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Round number for coordinates: two decimals are far below a pixel and keep files small. */
export function px(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/**
 * About `count` ticks covering [min, max] at a step of 1, 2 or 5 × 10^k, with the domain widened
 * to whole steps so the axis starts and ends on a labelled tick.
 */
export function niceTicks(min: number, max: number, count = 5): { ticks: number[]; min: number; max: number; step: number } {
  if (!(Number.isFinite(min) && Number.isFinite(max))) throw new Error(`niceTicks: domain [${min}, ${max}] is not finite`);
  if (max <= min) [min, max] = [min - 0.5, max + 0.5]; // a flat series still gets an axis around it
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
  const low = Math.floor(min / step + 1e-9) * step;
  const high = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; low + i * step <= high + step * 1e-9; i++) ticks.push(Number((low + i * step).toPrecision(12)));
  return { ticks, min: low, max: high, step };
}

/** Tick label with just enough decimals for the step. */
export function tickLabel(value: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}
