// The proxy's namespace mutex: one namespace change at a time, so a name never gets two vids.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Nfs3Status } from '../nfs3/types.js';
import { StatusError } from './errors.js';

/** Proof of holding a NamespaceLock: what a holder passes down to the calls it makes under it. */
export interface LockHold {
  readonly lock: NamespaceLock;
}

/**
 * A FIFO mutex, reentrant through an explicit hold. A holder's function gets a hold and passes it
 * to the calls it makes (resolve, register, ensureShadow, ...), which then run at once. A call
 * without a hold queues, and so does a call with the hold of a holder that has finished (async
 * work that holder left running).
 *
 * The hold is explicit because the implicit way, an AsyncLocalStorage, turns on Node 20's promise
 * hooks for every promise made while it is enabled: one JavaScript call per promise, on the path of
 * every namespace change.
 *
 * A call on a holder's own chain that forgets the hold would wait for itself forever. With
 * ROWFS_LOCK_CHECK=1 (the test suite sets it) an AsyncLocalStorage follows the holders, and such a
 * call fails with SERVERFAULT instead of hanging.
 */
export class NamespaceLock {
  private tail: Promise<unknown> = Promise.resolve();
  /** The running holder's hold. */
  private current: LockHold | undefined;
  private readonly check = process.env.ROWFS_LOCK_CHECK === '1' ? new AsyncLocalStorage<LockHold>() : undefined;

  run<T>(fn: (hold: LockHold) => Promise<T>, hold?: LockHold): Promise<T> {
    if (hold !== undefined && hold === this.current) return fn(hold);
    if (this.current !== undefined && this.check?.getStore() === this.current) {
      return Promise.reject(new StatusError(Nfs3Status.SERVERFAULT, 'namespace lock asked for again by its holder without the hold: it would wait for itself'));
    }
    // A bound method, not an async closure made per call: such a closure's optimized code is lost
    // at every full GC (docs/rowfs.md), and this runs for every namespace change.
    const take = this.holding.bind(this, fn) as () => Promise<T>;
    const result = this.tail.then(take, take);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Runs `fn` as the holder, once the holders before it have finished. */
  private async holding<T>(fn: (hold: LockHold) => Promise<T>): Promise<T> {
    const h: LockHold = { lock: this };
    this.current = h;
    try {
      return await (this.check ? this.check.run(h, fn, h) : fn(h));
    } finally {
      this.current = undefined;
    }
  }
}
