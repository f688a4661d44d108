/** Delay before reconnect attempt number ``attempt`` (0-based): exponential, capped, with jitter so
 * many tabs do not reconnect in step. Between half and all of min(max, base * 2^attempt). */
export function backoffDelay(
  attempt: number,
  { baseMs = 500, maxMs = 15_000, random = Math.random }: { baseMs?: number; maxMs?: number; random?: () => number } = {},
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
