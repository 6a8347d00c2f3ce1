// A bounded pool of equal-sized buffers for bulk payloads (READ replies from the main server, block
// cache reads), reused instead of allocated per message: moving data then neither leaves garbage for
// the GC nor touches fresh memory (on these VMs a never-touched page costs more than a copy).
// Ownership: acquire() hands out a Lease with one reference; every holder that keeps the bytes past
// an await takes its own reference (retain) and gives it back (release). The buffer returns to the
// pool only when the last reference is released, and a lease is never revived: a late retain or a
// second release of a finished lease throws BufferPoolError instead of touching a reused buffer.
import { CodedError } from '../../lib/coded-error.js';

export type BufferPoolErrorCode =
  | 'ALREADY_RELEASED' // retain or release of a finished lease, or bytes released twice
  | 'BAD_SIZE'; // a buffer size or count that is not a positive (non-negative) integer

export class BufferPoolError extends CodedError<BufferPoolErrorCode> {
  constructor(
    code: BufferPoolErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`);
  }
}

export interface BufferPoolStats {
  /** Buffers allocated so far (at most maxBuffers). */
  created: number;
  /** Buffers handed out now. */
  inUse: number;
  /** Most buffers handed out at once. */
  highWater: number;
  acquired: number;
  /** tryAcquire() calls that found no buffer (the caller fell back or skipped). */
  misses: number;
}

/** One use of a pooled buffer, reference counted. */
export class Lease {
  private refs = 1;

  constructor(
    private readonly pool: BufferPool,
    /** The whole pooled buffer (bufferBytes long). */
    readonly buf: Buffer,
  ) {}

  /** True while some holder has not released its reference. */
  get live(): boolean {
    return this.refs > 0;
  }

  /** One more holder; throws when the lease is already finished (its buffer may be reused). */
  retain(): this {
    if (this.refs <= 0) throw new BufferPoolError('ALREADY_RELEASED', 'retain of a released lease');
    this.refs++;
    return this;
  }

  /** Gives one reference back; the last one returns the buffer to the pool. */
  release(): void {
    if (this.refs <= 0) throw new BufferPoolError('ALREADY_RELEASED', 'release of a released lease');
    this.refs--;
    if (this.refs === 0) this.pool.giveBack(this.buf);
  }
}

export class BufferPool {
  private readonly free: Buffer[] = [];
  readonly stats: BufferPoolStats = { created: 0, inUse: 0, highWater: 0, acquired: 0, misses: 0 };

  constructor(
    /** Size of every buffer (bytes). */
    readonly bufferBytes: number,
    /** Cap on buffers ever allocated: the pool's memory is at most bufferBytes * maxBuffers. */
    readonly maxBuffers: number,
  ) {
    if (!Number.isInteger(bufferBytes) || bufferBytes <= 0) throw new BufferPoolError('BAD_SIZE', `bad buffer size ${bufferBytes}`);
    if (!Number.isInteger(maxBuffers) || maxBuffers < 0) throw new BufferPoolError('BAD_SIZE', `bad buffer count ${maxBuffers}`);
  }

  /** Buffers that could be handed out now without exceeding the cap. */
  get available(): number {
    return this.free.length + (this.maxBuffers - this.stats.created);
  }

  /** A buffer with one reference, or undefined when all maxBuffers are in use. */
  tryAcquire(): Lease | undefined {
    let buf = this.free.pop();
    if (!buf) {
      if (this.stats.created >= this.maxBuffers) {
        this.stats.misses++;
        return undefined;
      }
      // allocUnsafeSlow: a buffer of its own (not a slice of Node's shared pool); every byte a
      // holder reads was written by the transfer that filled it.
      buf = Buffer.allocUnsafeSlow(this.bufferBytes);
      this.stats.created++;
    }
    this.stats.acquired++;
    this.stats.inUse++;
    if (this.stats.inUse > this.stats.highWater) this.stats.highWater = this.stats.inUse;
    return new Lease(this, buf);
  }

  /** Called by Lease when its last reference goes. */
  giveBack(buf: Buffer): void {
    this.stats.inUse--;
    this.free.push(buf);
  }
}

/** Bytes and the reference that keeps them valid; `release` exactly once when done with `data`. */
export interface HeldBytes {
  data: Buffer;
  release(): void;
}

/** Bytes that need no release (ordinary heap memory). */
export function unpooled(data: Buffer): HeldBytes {
  return { data, release: () => undefined };
}

/** `data` held by `leases` (one reference each, taken by the caller): released together, once. */
export function heldBy(data: Buffer, leases: readonly Lease[]): HeldBytes {
  let done = false;
  return {
    data,
    release: () => {
      if (done) throw new BufferPoolError('ALREADY_RELEASED', 'bytes released twice');
      done = true;
      for (const l of leases) l.release();
    },
  };
}
