/**
 * The p-th percentile (0 < p <= 100) of `samples` by the nearest-rank definition: the smallest sample
 * with at least p% of all samples at or below it, so always one of the samples (p50 of 1..4 is 2, p99 of
 * 100 samples the 99th). NaN when there are none.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** The middle value, or the mean of the two middle values of an even count (the spread of rounds). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
