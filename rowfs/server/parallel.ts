// Runs an async function over items with at most `limit` in flight, keeping result order.
// Directory listings stat every entry; one by one, a 10,000-entry directory waits on 10,000
// thread-pool round trips in a row.

/** Default number of concurrent file-system calls for one request. */
export const DEFAULT_FS_CONCURRENCY = 32;

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
