// Keeps the proxy's resident memory bounded while it moves bulk data. Every READ/WRITE payload is
// one short-lived Buffer (the RPC record it arrived in; replies and cache writes only reference it)
// whose memory lives outside the V8 heap; V8 only collects such buffers once tens of MB have piled
// up. A full collection every `everyBytes` of payload (a few ms with the proxy's small heap) frees
// them early. Measured: every 32 MB -> peak RSS ~150 MB, every 16 MB -> ~130 MB, every 8 MB no
// better (the rest is V8's young generation, up to 32 MB, and malloc's retention).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Payload bytes moved between two full collections. */
export const DEFAULT_GC_EVERY_BYTES = 16 * 1024 * 1024;

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
