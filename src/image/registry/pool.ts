// Runs tasks with at most `limit` at a time. On the first failure no new task
// starts and `onFailure` is told (to cut in-flight transfers short); the
// result waits for the running ones to settle, so nothing is left writing
// when the error reaches the caller.
export async function runPool<T>(items: T[], limit: number, task: (item: T) => Promise<void>, onFailure: () => void = () => undefined): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await task(item);
      } catch (e) {
        if (!failed) {
          failed = { error: e };
          onFailure();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.error;
}
