// Directory paging under change, checked against a model (RFC 1813 s3.3.16-17 and POSIX readdir):
// a sequence of creates, removes, renames and links runs against a real server over NFS RPC while
// READDIR or READDIRPLUS pages through the directory with the cookies and verifier it handed out.
// Every finished listing must return '.' and '..' once (where the server lists them), each name at most once, every name that
// existed throughout it exactly once, and only names that existed at some point during it; a
// cookie must never come back with another name; a fresh listing at the end equals the model.
import fc from 'fast-check';
import { expectOk } from '../../../rowfs/nfs3/errors.js';
import type { Nfs3Client } from '../../../rowfs/nfs3/client.js';
import { CreateMode, Nfs3Status, type FileHandle } from '../../../rowfs/nfs3/types.js';

export const NO_VERF = new Uint8Array(8);
/** Small pages (a few entries each), so changes land between pages. */
export const PAGE = { count: 300, dircount: 120, maxcount: 1000 } as const;
/** Names the operations draw from (initial entries are the first ones). */
const NAME_POOL = Array.from({ length: 24 }, (_, i) => `f${String(i).padStart(3, '0')}`);

export type DirOp =
  | { op: 'page' }
  | { op: 'create'; name: number }
  | { op: 'remove'; pick: number }
  | { op: 'rename'; pick: number; to: number }
  | { op: 'link'; pick: number; to: number };

export const dirOps: fc.Arbitrary<DirOp[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constant({ op: 'page' as const }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('create' as const), name: fc.nat(NAME_POOL.length - 1) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat(63) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('rename' as const), pick: fc.nat(63), to: fc.nat(NAME_POOL.length - 1) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('link' as const), pick: fc.nat(63), to: fc.nat(NAME_POOL.length - 1) }) },
  ),
  { minLength: 4, maxLength: 40 },
);

/** The first `n` names of the pool (what a fresh test directory starts with). */
export function initialNames(n: number): string[] {
  return NAME_POOL.slice(0, n);
}

export interface PagedEntry {
  name: string;
  cookie: bigint;
}

/** One page of `dir` after `cookie`, through READDIRPLUS or READDIR. */
export async function readPage(nfs: Nfs3Client, dir: FileHandle, plus: boolean, cookie: bigint, cookieverf: Uint8Array) {
  const res = plus
    ? await nfs.readdirplus({ dir, cookie, cookieverf, dircount: PAGE.dircount, maxcount: PAGE.maxcount })
    : await nfs.readdir({ dir, cookie, cookieverf, count: PAGE.count });
  const ok = expectOk(res, plus ? 'READDIRPLUS' : 'READDIR');
  return { entries: ok.entries.map((e): PagedEntry => ({ name: e.name, cookie: e.cookie })), eof: ok.eof, verf: ok.cookieverf };
}

/** Every name of `dir` in one paged pass (no changes meanwhile), '.' and '..' left out. */
export async function listAllNames(nfs: Nfs3Client, dir: FileHandle, plus: boolean): Promise<string[]> {
  const out: string[] = [];
  let cookie = 0n;
  let verf: Uint8Array = NO_VERF;
  for (let i = 0; i < 10_000; i++) {
    const p = await readPage(nfs, dir, plus, cookie, verf);
    for (const e of p.entries) if (e.name !== '.' && e.name !== '..') out.push(e.name);
    if (p.eof) return out;
    if (p.entries.length === 0) throw new Error('a page with no entries and no eof');
    cookie = p.entries[p.entries.length - 1]!.cookie;
    verf = p.verf;
  }
  throw new Error('listing did not finish');
}

/** A listing in progress, with what the model says happened meanwhile. */
interface OpenListing {
  cookie: bigint;
  verf: Uint8Array;
  seen: string[];
  /** Name -> generation at the listing's start (a name created again gets a new generation). */
  atStart: Map<string, number>;
  /** Every (name, generation) present at some point since the listing started. */
  everPresent: Set<string>;
}

/**
 * Runs `ops` against `dir` (holding `names` at first) and checks every listing the page steps make.
 * Returns a description of the first violation, or undefined.
 */
export async function runAgainstModel(nfs: Nfs3Client, dir: FileHandle, names: string[], ops: DirOp[], plus: boolean, dots: boolean): Promise<string | undefined> {
  const model = new Map<string, number>(); // name -> generation
  let generation = 0;
  for (const n of names) model.set(n, generation++);
  // name -> file (hard links share one); renaming a link over its twin does nothing (POSIX rename).
  const fileOf = new Map<string, number>();
  let files = 0;
  for (const n of names) fileOf.set(n, files++);
  const cookieNames = new Map<bigint, string>();
  let open: OpenListing | undefined;
  const present = () => {
    if (open) for (const [n, g] of model) open.everPresent.add(`${n}#${g}`);
  };
  const existing = (pick: number) => [...model.keys()].sort()[pick % model.size];

  const page = async (): Promise<string | undefined> => {
    open ??= { cookie: 0n, verf: NO_VERF, seen: [], atStart: new Map(model), everPresent: new Set() };
    present();
    const p = await readPage(nfs, dir, plus, open.cookie, open.verf);
    for (const e of p.entries) {
      const was = cookieNames.get(e.cookie);
      if (was !== undefined && was !== e.name) return `cookie ${e.cookie} named ${was} and now ${e.name}`;
      cookieNames.set(e.cookie, e.name);
      if (e.name !== '.' && e.name !== '..' && !model.has(e.name) && ![...open.everPresent].some((k) => k.startsWith(`${e.name}#`))) {
        return `${e.name} returned but never existed during the listing`;
      }
      open.seen.push(e.name);
    }
    if (!p.eof) {
      if (p.entries.length === 0) return 'a page with no entries and no eof';
      open.cookie = p.entries[p.entries.length - 1]!.cookie;
      open.verf = p.verf;
      return undefined;
    }
    const done = open;
    open = undefined;
    return checkFinished(done, model, dots);
  };

  for (const step of ops) {
    let failure: string | undefined;
    switch (step.op) {
      case 'page':
        failure = await page();
        break;
      case 'create': {
        const name = NAME_POOL[step.name]!;
        if (model.has(name)) break;
        const how = { mode: CreateMode.GUARDED, attributes: { mode: 0o644 } } as const;
        expectOk(await nfs.create({ where: { dir, name }, how }), `CREATE ${name}`);
        model.set(name, generation++);
        fileOf.set(name, files++);
        break;
      }
      case 'remove': {
        if (model.size === 0) break;
        const name = existing(step.pick)!;
        expectOk(await nfs.remove({ object: { dir, name } }), `REMOVE ${name}`);
        model.delete(name);
        fileOf.delete(name);
        break;
      }
      case 'rename': {
        if (model.size === 0) break;
        const from = existing(step.pick)!;
        const to = NAME_POOL[step.to]!;
        expectOk(await nfs.rename({ from: { dir, name: from }, to: { dir, name: to } }), `RENAME ${from} ${to}`);
        if (fileOf.get(from) === fileOf.get(to)) break; // the same name, or two links of one file
        model.delete(from);
        model.set(to, generation++);
        fileOf.set(to, fileOf.get(from)!);
        fileOf.delete(from);
        break;
      }
      case 'link': {
        if (model.size === 0) break;
        const from = existing(step.pick)!;
        const to = NAME_POOL[step.to]!;
        if (model.has(to)) break;
        const file = expectOk(await nfs.lookup({ what: { dir, name: from } }), `LOOKUP ${from}`).object;
        expectOk(await nfs.link({ file, link: { dir, name: to } }), `LINK ${from} ${to}`);
        model.set(to, generation++);
        fileOf.set(to, fileOf.get(from)!);
        break;
      }
    }
    present();
    if (failure) return failure;
  }
  // Finish the listing in progress, then compare a fresh one with the model.
  for (let i = 0; open && i < 1000; i++) {
    const failure = await page();
    if (failure) return failure;
  }
  const fresh = (await listAllNames(nfs, dir, plus)).sort();
  const want = [...model.keys()].sort();
  if (fresh.join() !== want.join()) return `fresh listing ${fresh.join()} != model ${want.join()}`;
  return undefined;
}

function checkFinished(l: OpenListing, model: Map<string, number>, dots: boolean): string | undefined {
  const counts = new Map<string, number>();
  for (const n of l.seen) counts.set(n, (counts.get(n) ?? 0) + 1);
  for (const [n, c] of counts) if (c > 1) return `${n} returned ${c} times in one listing (${l.seen.join()})`;
  if (dots && (!counts.has('.') || !counts.has('..'))) return `. or .. missing (${l.seen.join()})`;
  for (const [n, g] of l.atStart) {
    if (model.get(n) === g && !counts.has(n)) return `${n} existed throughout but was not returned (${l.seen.join()})`;
  }
  return undefined;
}

/**
 * Checks `runs` random operation sequences, each on a fresh directory from `freshDir`, with
 * READDIR or READDIRPLUS (`dots`: the server lists '.' and '..'); throws with the violation and
 * the counterexample.
 */
export async function checkPagingAgainstModel(
  nfs: Nfs3Client,
  freshDir: () => Promise<{ dir: FileHandle; names: string[] }>,
  opts: { runs: number; dots: boolean },
): Promise<void> {
  const property = fc.asyncProperty(dirOps, fc.boolean(), async (ops, plus) => {
    const { dir, names } = await freshDir();
    const failure = await runAgainstModel(nfs, dir, names, ops, plus, opts.dots);
    if (failure) throw new Error(failure);
  });
  // Each run takes a fresh directory, so no shrinking (it would rerun on new directories anyway).
  const details = await fc.check(property, { numRuns: opts.runs, endOnFailure: true });
  if (details.failed) {
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    throw new Error(`${cause}\nseed ${details.seed}, counterexample ${JSON.stringify(details.counterexample)}`);
  }
}

/**
 * The reproducer generalised: list page by page and remove every entry of a page before
 * asking for the next one with its cookie and verifier (what `rm -rf` does). Returns the names seen.
 */
export async function removeWhileListing(nfs: Nfs3Client, dir: FileHandle, plus: boolean, remove: (name: string) => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  let cookie = 0n;
  let verf: Uint8Array = NO_VERF;
  for (let i = 0; i < 1000; i++) {
    const p = await readPage(nfs, dir, plus, cookie, verf);
    for (const e of p.entries) {
      if (e.name === '.' || e.name === '..') continue;
      seen.push(e.name);
      await remove(e.name);
    }
    if (p.eof) return seen;
    if (p.entries.length === 0) throw new Error('a page with no entries and no eof');
    cookie = p.entries[p.entries.length - 1]!.cookie;
    verf = p.verf;
  }
  throw new Error('listing did not finish');
}

/** True for NFS3ERR_BAD_COOKIE (for tests of the verifier). */
export function isBadCookie(res: { status: Nfs3Status }): boolean {
  return res.status === Nfs3Status.BAD_COOKIE;
}
