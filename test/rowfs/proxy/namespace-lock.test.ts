// The proxy's reentrant namespace lock: FIFO exclusion between call chains, reentrancy along one
// chain (also after awaits, and in later holders: its AsyncLocalStorage is disabled between holders
// and enabled again by the next one), release on rejection, and no entry for async work an earlier
// holder left running.
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { NamespaceLock } from '../../../rowfs/proxy/core.js';

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

test('a holder re-enters the lock along its own chain (nested, after awaits, recursively), in every later holder too', async (t) => {
  const lock = new NamespaceLock();
  const depth = async (n: number): Promise<number> => lock.run(async () => (n === 0 ? 0 : 1 + (await depth(n - 1))));
  for (let round = 0; round < 3; round++) {
    const got = await bounded(
      lock.run(async () => {
        await sleep(1);
        const inner = await lock.run(async () => {
          await Promise.resolve();
          return lock.run(async () => 'innermost');
        });
        await sleep(1);
        return [inner, await depth(5)] as const;
      }),
      `round ${round}`,
    );
    t.deepEqual(got, ['innermost', 5]);
  }
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
  const next = lock.run(async () => lock.run(async () => 'after'));
  await t.throwsAsync(failed, { message: 'boom' });
  t.is(await bounded(next, 'holder after a failure'), 'after');
});

test('async work an earlier holder left running does not enter the lock while a later holder holds it', async (t) => {
  const lock = new NamespaceLock();
  let leftover: Promise<string> | undefined;
  let releaseLeftover!: () => void;
  const leftoverGate = new Promise<void>((r) => (releaseLeftover = r));
  // Holder A starts work it does not await (its chain carries A's token), then finishes.
  await lock.run(async () => {
    leftover = (async () => {
      await leftoverGate;
      return lock.run(async () => 'leftover');
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
