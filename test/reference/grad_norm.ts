// Float64 reference for torch.nn.utils.clip_grad_norm_ (L2 norm over all tensors together).
export function clipGradNormReference(grads: ArrayLike<number>[], maxNorm: number): { scale: number; norm: number } {
  let sumOfSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumOfSquares += g[i]! * g[i]!;
  const norm = Math.sqrt(sumOfSquares);
  return { scale: Math.min(1, maxNorm / (norm + 1e-6)), norm };
}
