// Exponential moving average for noisy training curves, as TensorBoard's smoothing slider: each
// output is smoothing × the previous one + (1 − smoothing) × the new value, divided by the weight
// accumulated so far, so the first values are not pulled towards zero (the usual debiasing).

/** `smoothing` in [0, 1): 0 returns the values unchanged, 0.9 averages over about ten values. */
export function ema(values: number[], smoothing: number): number[] {
  let biased = 0;
  let weight = 0;
  return values.map((value) => {
    biased = smoothing * biased + (1 - smoothing) * value;
    weight = smoothing * weight + (1 - smoothing);
    return biased / weight;
  });
}
