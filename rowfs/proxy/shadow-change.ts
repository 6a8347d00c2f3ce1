// A namespace change is two halves: the shadow's call, then the proxy's records of it. When either
// half fails part way (an answer lost after the shadow applied the change, a commit that fails),
// the proxy no longer knows every name in the directories involved; these wrappers make it forget
// what it may have wrong, so the next resolve asks the shadow and main again.
import { Nfs3Status } from '../nfs3/types.js';
import type { ProxyCore } from './core.js';

/**
 * A shadow call that adds a name to the shadow directories `dirs`. When it throws (an RPC timeout
 * after the server applied it) or answers an error (a retransmission of an applied change answers
 * EXIST or NOENT), the name may be in the shadow unrecorded: `dirs` lose their "every name
 * recorded" mark.
 */
export async function shadowChange<R extends { status: Nfs3Status }>(core: ProxyCore, dirs: number[], call: Promise<R>): Promise<R> {
  let res: R | undefined;
  try {
    res = await call;
    return res;
  } finally {
    if (res?.status !== Nfs3Status.OK) core.shadowDirs.forget(...dirs);
  }
}

/**
 * A REMOVE, RMDIR or RENAME's shadow call. One that fails without an answer (the reply lost, the
 * shadow server quiet past the deadline) may have been applied all the same, and the names it
 * touched may no longer be what the proxy recorded: they are forgotten and marked uncertain, so
 * the next resolve asks the shadow (before any whiteout), and main, what is there now. Nodes
 * stay: a handle a client holds still names its object.
 */
export async function forgettingOnLostAnswer<R>(core: ProxyCore, names: Array<[number, string]>, call: Promise<R>): Promise<R> {
  try {
    return await call;
  } catch (e) {
    const dirs = names.map(([dir]) => dir);
    core.shadowDirs.forget(...dirs);
    for (const dir of dirs) core.mainDirs.forget(dir);
    for (const [dir, name] of names) core.markUncertain(dir, name);
    await core.store
      .commit((tx) => {
        for (const [dir, name] of names) tx.removeName(dir, name);
      }, 'soon')
      .catch(() => undefined); // the call's own failure is the one to report
    for (const dir of dirs) core.onDirChanged(dir);
    throw e;
  }
}

/**
 * Records a change the shadow has already made: if that fails, the shadow directories `dirs` may
 * hold a name the proxy has not recorded, so they lose their "every name recorded" mark.
 */
export async function afterShadowChange<T>(core: ProxyCore, dirs: number[], record: Promise<T>): Promise<T> {
  try {
    return await record;
  } catch (e) {
    core.shadowDirs.forget(...dirs);
    throw e;
  }
}
