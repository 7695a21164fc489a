// Float64 central finite differences, for checking CPU backward references against their forwards.

/**
 * The gradient of loss(x) = Σ weights · forward(x) with respect to every element of x, by central
 * differences. `forward` must compute in float64 so the step size, not rounding, sets the error.
 */
export function numericGradient(forward: (x: Float64Array) => ArrayLike<number>, x: ArrayLike<number>, weights: ArrayLike<number>, step = 1e-6): Float64Array {
  const point = Float64Array.from(x);
  const loss = (): number => {
    const out = forward(point);
    let sum = 0;
    for (let i = 0; i < out.length; i++) sum += weights[i]! * out[i]!;
    return sum;
  };
  const grad = new Float64Array(point.length);
  for (let i = 0; i < point.length; i++) {
    const saved = point[i]!;
    point[i] = saved + step;
    const up = loss();
    point[i] = saved - step;
    const down = loss();
    point[i] = saved;
    grad[i] = (up - down) / (2 * step);
  }
  return grad;
}
