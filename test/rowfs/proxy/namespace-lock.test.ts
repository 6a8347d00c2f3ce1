// The proxy's namespace lock: FIFO exclusion between call chains, reentrancy through the holder's
// hold (nested, after awaits, in every holder), release on rejection, no entry for async work an
// earlier holder left running, and (ROWFS_LOCK_CHECK=1) a holder that asks again without its hold
// fails instead of waiting for itself.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { NamespaceLock, type LockHold } from '../../../rowfs/proxy/namespace-lock.js';
import { Nfs3Status } from '../../../rowfs/nfs3/types.js';

/** A lock made with ROWFS_LOCK_CHECK set to `check` (read when the lock is made). */
function lockWithCheck(check: boolean): NamespaceLock {
  const before = process.env.ROWFS_LOCK_CHECK;
  process.env.ROWFS_LOCK_CHECK = check ? '1' : '0';
  try {
    return new NamespaceLock();
  } finally {
    if (before === undefined) delete process.env.ROWFS_LOCK_CHECK;
    else process.env.ROWFS_LOCK_CHECK = before;
  }
}

/** Fails the test instead of hanging when a lock deadlocks. */
const WAIT_LIMIT_MS = 5_000;
function bounded<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([p, sleep(WAIT_LIMIT_MS, undefined, { ref: false }).then(() => Promise.reject(new Error(`${what}: no result in ${WAIT_LIMIT_MS} ms`)))]);
}

test('holders from separate chains run one at a time, in call order', async (t) => {
  const lock = new NamespaceLock();
  const log: string[] = [];
  let inside = 0;
  const holder = (name: string, ms: number) =>
    lock.run(async () => {
      inside++;
      t.is(inside, 1, `${name} ran while another holder was inside`);
      log.push(`${name}+`);
      await sleep(ms);
      log.push(`${name}-`);
      inside--;
      return name;
    });
  const results = await bounded(Promise.all([holder('a', 20), holder('b', 1), holder('c', 5)]), 'three holders');
  t.deepEqual(results, ['a', 'b', 'c']);
  t.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
});

for (const check of [false, true]) {
  test(`a holder re-enters the lock with its hold (nested, after awaits, recursively), in every later holder too (check ${check ? 'on' : 'off'})`, async (t) => {
    const lock = lockWithCheck(check);
    const depth = async (n: number, hold: LockHold): Promise<number> => lock.run(async (h) => (n === 0 ? 0 : 1 + (await depth(n - 1, h))), hold);
    for (let round = 0; round < 3; round++) {
      const got = await bounded(
        lock.run(async (hold) => {
          await sleep(1);
          const inner = await lock.run(async (h) => {
            t.is(h, hold, 'a nested run gets the same hold');
            await Promise.resolve();
            return lock.run(async () => 'innermost', h);
          }, hold);
          await sleep(1);
          return [inner, await depth(5, hold)] as const;
        }),
        `round ${round}`,
      );
      t.deepEqual(got, ['innermost', 5]);
    }
  });
}

test('with the check on, a holder that asks again without its hold fails at once (no deadlock); the lock stays usable', async (t) => {
  const lock = lockWithCheck(true);
  const err = await bounded(
    lock.run(async () => {
      await sleep(1);
      return lock.run(async () => 'never');
    }).then(
      () => undefined,
      (e: unknown) => e,
    ),
    'a holder asking again without its hold',
  );
  t.is((err as { status?: number } | undefined)?.status, Nfs3Status.SERVERFAULT);
  t.is(await bounded(lock.run(async () => 'after'), 'a holder after the failure'), 'after');
});

test('with the check off, a holder that asks again without its hold waits behind itself (why the check exists)', async (t) => {
  const lock = lockWithCheck(false);
  let reached = false;
  void lock.run(async () => {
    await lock.run(async () => void (reached = true));
  });
  await sleep(30);
  t.false(reached, 'the nested call without the hold must queue behind its own holder');
});

test('a chain outside the lock waits for the holder even after earlier holders are done', async (t) => {
  const lock = new NamespaceLock();
  await lock.run(async () => undefined); // one holder cycle first (storage enabled, then disabled)
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const order: string[] = [];
  const first = lock.run(async () => {
    await gate;
    order.push('first');
  });
  const second = lock.run(async () => void order.push('second'));
  await sleep(10);
  t.deepEqual(order, [], 'the second holder ran while the first held the lock');
  release();
  await bounded(Promise.all([first, second]), 'two holders');
  t.deepEqual(order, ['first', 'second']);
});

test('a holder that throws releases the lock; the error reaches its caller', async (t) => {
  const lock = new NamespaceLock();
  const failed = lock.run(async () => {
    await sleep(1);
    throw new Error('boom');
  });
  const next = lock.run(async (hold) => lock.run(async () => 'after', hold));
  await t.throwsAsync(failed, { message: 'boom' });
  t.is(await bounded(next, 'holder after a failure'), 'after');
});

test('async work an earlier holder left running does not enter the lock while a later holder holds it', async (t) => {
  const lock = new NamespaceLock();
  let leftover: Promise<string> | undefined;
  let releaseLeftover!: () => void;
  const leftoverGate = new Promise<void>((r) => (releaseLeftover = r));
  // Holder A starts work it does not await (it keeps A's hold), then finishes.
  await lock.run(async (holdA) => {
    leftover = (async () => {
      await leftoverGate;
      return lock.run(async () => 'leftover', holdA);
    })();
  });
  // Holder B holds the lock; A's leftover work asks for it meanwhile: it must wait for B.
  let releaseB!: () => void;
  const gateB = new Promise<void>((r) => (releaseB = r));
  const order: string[] = [];
  const b = lock.run(async () => {
    order.push('b+');
    releaseLeftover();
    await sleep(20);
    await gateB;
    order.push('b-');
  });
  await sleep(5);
  const got = leftover!.then((v) => {
    order.push(v);
    return v;
  });
  await sleep(30);
  t.deepEqual(order, ['b+'], 'the leftover work waits for B');
  releaseB();
  await bounded(Promise.all([b, got]), 'B and the leftover');
  t.deepEqual(order, ['b+', 'b-', 'leftover']);
});
