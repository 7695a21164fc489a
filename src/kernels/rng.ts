// CPU twin of shaders/lib/rng.wgsl: the same bits in Node and in any browser, for tests and for
// anything the CPU must predict (e.g. which units a dropout step kept).
function rngHash(v: number): number {
  let x = v >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

export function rngU32(seed: number, stream: number, counter: number): number {
  return rngHash((rngHash((rngHash(seed) ^ stream) >>> 0) + counter) >>> 0);
}

export function rngUniform(seed: number, stream: number, counter: number): number {
  return (rngU32(seed, stream, counter) >>> 8) / 16777216;
}
