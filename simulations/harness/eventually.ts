// A bounded poll for tests and harnesses: `check` names what is still wrong, or undefined once all is well.

/** Polls `check` every `pollMs` until it returns undefined or `timeoutMs` passes; returns the last complaint (undefined = passed). */
export async function eventually(check: () => Promise<string | undefined>, timeoutMs: number, pollMs = 500): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined = 'never checked';
  while (Date.now() < deadline) {
    last = await check();
    if (last === undefined) return undefined;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return last;
}
