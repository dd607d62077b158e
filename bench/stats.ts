export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

/** Per-call microseconds of `call`, after a warm-up: the median, and calls per second. */
export async function timeCalls(call: () => unknown, { warmup, calls }: { warmup: number; calls: number }) {
  for (let i = 0; i < warmup; i++) await call();
  const perCall: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const callStarted = process.hrtime.bigint();
    await call();
    perCall.push(Number(process.hrtime.bigint() - callStarted) / 1e3);
  }
  const totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const { median, min } = summarize(perCall);
  return { medianUs: median, minUs: min, calls, perSecond: calls / totalSeconds };
}
