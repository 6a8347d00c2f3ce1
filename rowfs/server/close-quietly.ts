// Closing a descriptor this server kept, where a failure (already closed) changes nothing: now, or
// soon (after the current call's reply has gone out).
import { closeSync } from 'node:fs';

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

const closingSoon: number[] = [];

/**
 * Closes `fd` in the next check phase of the event loop, after the reply of the call that let it go
 * has been written: a close costs 15-40 us here, and nothing waits for it. The number stays taken
 * until then, so nothing else can be given it meanwhile.
 */
export function closeSoon(fd: number): void {
  if (closingSoon.push(fd) === 1) setImmediate(closePending);
}

function closePending(): void {
  for (const fd of closingSoon.splice(0)) closeQuietly(fd);
}
