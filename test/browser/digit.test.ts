// The drawing pad's MNIST-style preprocessing (web/digit.ts): bounding box to 20×20 with the aspect
// kept, then centred by centre of mass in 28×28.
import { describe, expect, it } from 'vitest';
import { MNIST_SIZE, toMnistPixels } from '../../web/digit.ts';

/** A width×height drawing with ink in the rectangle [x0, x1) × [y0, y1). */
function drawing(width: number, height: number, x0: number, x1: number, y0: number, y1: number): Float32Array {
  const ink = new Float32Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) ink[y * width + x] = 1;
  return ink;
}

function inkBox(pixels: Uint8Array): { width: number; height: number; centreX: number; centreY: number } {
  let left = MNIST_SIZE, right = -1, top = MNIST_SIZE, bottom = -1, mass = 0, mx = 0, my = 0;
  pixels.forEach((v, i) => {
    if (!v) return;
    const x = i % MNIST_SIZE, y = Math.floor(i / MNIST_SIZE);
    left = Math.min(left, x); right = Math.max(right, x); top = Math.min(top, y); bottom = Math.max(bottom, y);
    mass += v; mx += v * x; my += v * y;
  });
  return { width: right - left + 1, height: bottom - top + 1, centreX: mx / mass, centreY: my / mass };
}

describe('toMnistPixels', () => {
  it('returns null for an empty pad', () => {
    expect(toMnistPixels(new Float32Array(280 * 280), 280, 280)).toBeNull();
  });

  it.each([
    ['a square in a corner', 280, 280, 10, 90, 200, 270],
    ['a thin vertical stroke off centre', 280, 280, 200, 222, 30, 250],
    ['a wide bar on an odd-sized pad', 129, 17, 3, 120, 5, 12],
    ['a single pixel', 3, 3, 2, 3, 0, 1],
  ])('%s: longest side 20 px, aspect kept, centre of mass at 13.5 ± 0.5', (_, width, height, x0, x1, y0, y1) => {
    const pixels = toMnistPixels(drawing(width, height, x0, x1, y0, y1), width, height)!;
    expect(pixels).toHaveLength(MNIST_SIZE * MNIST_SIZE);
    const box = inkBox(pixels);
    const [boxW, boxH] = [x1 - x0, y1 - y0];
    expect(Math.max(box.width, box.height)).toBe(20);
    // Rounding the short side to whole pixels moves it by at most one.
    expect(Math.abs(Math.min(box.width, box.height) - Math.max(1, Math.round(20 * Math.min(boxW, boxH) / Math.max(boxW, boxH))))).toBeLessThanOrEqual(1);
    expect(Math.abs(box.centreX - 13.5)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(box.centreY - 13.5)).toBeLessThanOrEqual(0.5);
  });
});
