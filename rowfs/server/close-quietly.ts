// Closing a descriptor this server kept, where a failure (already closed) changes nothing.
import { closeSync } from 'node:fs';

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
