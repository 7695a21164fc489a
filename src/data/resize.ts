// Grayscale resizing, one axis at a time: area averaging when shrinking (every source pixel
// counts, so thin strokes survive 10× reductions) and bilinear interpolation with pixel centres
// aligned when enlarging (area weights would turn that into blocky nearest-neighbour).
//
//   resizeGray(pixels, height, width, outHeight, outWidth) → Uint8Array of outHeight×outWidth

interface Tap {
  index: number;
  weight: number;
}

function axisTaps(from: number, to: number): Tap[][] {
  const scale = from / to;
  return Array.from({ length: to }, (_, j) => {
    if (scale >= 1) {
      const start = j * scale;
      const end = start + scale;
      const taps: Tap[] = [];
      for (let i = Math.floor(start); i < Math.min(Math.ceil(end), from); i++) {
        const overlap = Math.min(end, i + 1) - Math.max(start, i);
        if (overlap > 0) taps.push({ index: i, weight: overlap / scale });
      }
      return taps;
    }
    const x = Math.min(Math.max((j + 0.5) * scale - 0.5, 0), from - 1);
    const left = Math.floor(x);
    const right = Math.min(left + 1, from - 1);
    const t = x - left;
    return [{ index: left, weight: 1 - t }, { index: right, weight: t }];
  });
}

export function resizeGray(pixels: Uint8Array, height: number, width: number, outHeight: number, outWidth: number): Uint8Array {
  if (pixels.length !== height * width) throw new Error(`resizeGray: ${pixels.length} pixels is not ${height}×${width}`);
  if (height < 1 || width < 1 || outHeight < 1 || outWidth < 1) throw new Error(`resizeGray: empty size ${height}×${width} → ${outHeight}×${outWidth}`);
  const columnTaps = axisTaps(width, outWidth);
  const rowTaps = axisTaps(height, outHeight);
  const wide = new Float64Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (const tap of columnTaps[x]!) sum += tap.weight * pixels[y * width + tap.index]!;
      wide[y * outWidth + x] = sum;
    }
  }
  const out = new Uint8Array(outHeight * outWidth);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      let sum = 0;
      for (const tap of rowTaps[y]!) sum += tap.weight * wide[tap.index * outWidth + x]!;
      out[y * outWidth + x] = Math.min(255, Math.max(0, Math.round(sum)));
    }
  }
  return out;
}
