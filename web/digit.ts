// A hand-drawn digit made to look like an MNIST image, the way MNIST itself was made: the ink's
// bounding box is scaled to fit 20×20 (aspect kept, area-averaged, so strokes turn grey at the
// edges), then placed in 28×28 with its centre of mass at the centre.

export const MNIST_SIZE = 28;
const BOX = 20;

/** `ink` is width×height, row-major, 0 (paper) … 1 (ink). Returns 28×28 u8 pixels, or null when nothing is drawn. */
export function toMnistPixels(ink: Float32Array, width: number, height: number): Uint8Array | null {
  let left = width, right = -1, top = height, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! <= 0) continue;
      left = Math.min(left, x); right = Math.max(right, x);
      top = Math.min(top, y); bottom = Math.max(bottom, y);
    }
  }
  if (right < 0) return null;
  const boxW = right - left + 1, boxH = bottom - top + 1;
  const scale = BOX / Math.max(boxW, boxH);
  const outW = Math.max(1, Math.round(boxW * scale)), outH = Math.max(1, Math.round(boxH * scale));

  // Area average: each small pixel is the mean of the drawing's pixels it covers (at least one, so
  // a drawing smaller than 20 px is enlarged without holes).
  const small = new Float64Array(outW * outH);
  for (let sy = 0; sy < outH; sy++) {
    const y0 = top + Math.floor(sy * boxH / outH), y1 = Math.max(y0 + 1, top + Math.ceil((sy + 1) * boxH / outH));
    for (let sx = 0; sx < outW; sx++) {
      const x0 = left + Math.floor(sx * boxW / outW), x1 = Math.max(x0 + 1, left + Math.ceil((sx + 1) * boxW / outW));
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += ink[y * width + x]!;
      small[sy * outW + sx] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  let mass = 0, massX = 0, massY = 0;
  for (let i = 0; i < small.length; i++) {
    mass += small[i]!;
    massX += small[i]! * (i % outW);
    massY += small[i]! * Math.floor(i / outW);
  }
  // Shift so the centre of mass lands on the frame's centre, 13.5 in pixel indices (staying inside the frame).
  const shiftX = Math.min(MNIST_SIZE - outW, Math.max(0, Math.round(MNIST_SIZE / 2 - 0.5 - massX / mass)));
  const shiftY = Math.min(MNIST_SIZE - outH, Math.max(0, Math.round(MNIST_SIZE / 2 - 0.5 - massY / mass)));
  const out = new Uint8Array(MNIST_SIZE * MNIST_SIZE);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) out[(y + shiftY) * MNIST_SIZE + x + shiftX] = Math.round(255 * Math.min(1, small[y * outW + x]!));
  }
  return out;
}
