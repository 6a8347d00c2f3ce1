// Keeps the proxy's resident memory bounded while it moves bulk data. Every READ/WRITE payload
// becomes a few short-lived Buffers (RPC record, reply encoding, cache I/O) whose memory lives
// outside the V8 heap; V8 only collects them once tens of MB have piled up. A young-generation
// collection every `everyBytes` of payload (about a millisecond) frees them early.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Payload bytes moved between two young-generation collections. */
export const DEFAULT_GC_EVERY_BYTES = 32 * 1024 * 1024;

type GcFn = (opts?: { type: 'minor' | 'major' }) => void;

let gcFn: GcFn | undefined | null;

function getGc(): GcFn | undefined {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as GcFn;
    } catch {
      gcFn = null; // not available: fall back to V8's own schedule
    }
  }
  return gcFn ?? undefined;
}

export class MemoryGovernor {
  private pending = 0;
  collections = 0;

  constructor(private readonly everyBytes = DEFAULT_GC_EVERY_BYTES) {}

  /** Notes `n` payload bytes moved; collects young garbage every `everyBytes`. */
  note(n: number): void {
    this.pending += n;
    if (this.pending < this.everyBytes) return;
    this.pending = 0;
    const gc = getGc();
    if (!gc) return;
    gc({ type: 'major' });
    this.collections++;
  }
}
