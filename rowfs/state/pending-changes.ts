// The state store's journalled changes that are not in LMDB yet (change-journal.ts): the last
// change of each key, which reads consult before LMDB, written to LMDB in one transaction.
import type { Database } from 'lmdb';
import type { JournalChange } from './change-journal.js';
import { keepBytes } from './handle-arena.js';
import { nodeRecord } from './node-record.js';

/** What a node is in journal form and back. */
export interface NodeFields {
  vid: number;
  type: number;
  parent: number;
  name: string;
  main: Uint8Array | null;
  shadow: Uint8Array | null;
  mainBlocks: number;
}

type Key = number | string | (number | string)[];

/** The LMDB tables a batch is written to. */
export interface StoreTables<N extends NodeFields> {
  nodes: Database<N, number>;
  names: Database<number, Key>;
  whiteouts: Database<number, Key>;
  bitmaps: Database<Uint8Array, number>;
  mainIndex: Database<number, string>;
}

export class PendingChanges<N extends NodeFields> {
  /** null: removed. */
  private readonly nodes = new Map<number, N | null>();
  private readonly names = new Map<number, Map<string, number | null>>();
  private readonly whiteouts = new Map<number, Map<string, boolean>>();
  private readonly bitmaps = new Map<number, Uint8Array | null>();
  private readonly mainIndex = new Map<string, number>();
  /** Commits added since the last write to LMDB. */
  commits = 0;
  /** Changes added since the last write to LMDB (a listing's names come as one commit of thousands). */
  changes = 0;

  /** Adds one commit's changes (in order: a later change of a key replaces an earlier one). */
  addCommit(changes: readonly JournalChange[]): void {
    for (const c of changes) this.add(c);
    this.commits++;
    this.changes += changes.length;
  }

  private add(c: JournalChange): void {
    switch (c.op) {
      case 'node':
        this.nodes.set(c.vid, nodeOfChange(c) as N);
        break;
      case 'rmnode':
        this.nodes.set(c.vid, null);
        this.bitmaps.set(c.vid, null);
        break;
      case 'name':
        inner(this.names, c.parent).set(c.name, c.vid);
        break;
      case 'rmname':
        inner(this.names, c.parent).set(c.name, null);
        break;
      case 'whiteout':
      case 'rmwhiteout':
        inner(this.whiteouts, c.parent).set(c.name, c.op === 'whiteout');
        break;
      case 'bitmap':
        this.bitmaps.set(c.vid, c.bytes);
        break;
      case 'mainIndex':
        this.mainIndex.set(c.key, c.vid);
        break;
    }
  }

  /** undefined: not pending (ask LMDB); null: removed. */
  node(vid: number): N | null | undefined {
    return this.nodes.get(vid);
  }

  name(parent: number, name: string): number | null | undefined {
    return this.names.get(parent)?.get(name);
  }

  /** The pending names of `parent` (null: removed), if any. */
  namesOf(parent: number): ReadonlyMap<string, number | null> | undefined {
    return this.names.get(parent);
  }

  whiteout(parent: number, name: string): boolean | undefined {
    return this.whiteouts.get(parent)?.get(name);
  }

  whiteoutsOf(parent: number): ReadonlyMap<string, boolean> | undefined {
    return this.whiteouts.get(parent);
  }

  bitmap(vid: number): Uint8Array | null | undefined {
    return this.bitmaps.get(vid);
  }

  byMainKey(key: string): number | undefined {
    return this.mainIndex.get(key);
  }

  /** The nodes put or removed (null), for the store's node cache once they are in LMDB. */
  touchedNodes(): ReadonlyMap<number, N | null> {
    return this.nodes;
  }

  /** Writes every change; call inside one LMDB write transaction. */
  writeTo(t: StoreTables<N>): void {
    for (const [vid, n] of this.nodes) {
      if (n) t.nodes.putSync(vid, n);
      else t.nodes.removeSync(vid);
    }
    for (const [parent, m] of this.names) {
      for (const [name, vid] of m) {
        if (vid === null) t.names.removeSync([parent, name]);
        else t.names.putSync([parent, name], vid);
      }
    }
    for (const [parent, m] of this.whiteouts) {
      for (const [name, on] of m) {
        if (on) t.whiteouts.putSync([parent, name], 1);
        else t.whiteouts.removeSync([parent, name]);
      }
    }
    for (const [vid, bytes] of this.bitmaps) {
      if (bytes && bytes.length > 0) t.bitmaps.putSync(vid, bytes);
      else t.bitmaps.removeSync(vid);
    }
    for (const [key, vid] of this.mainIndex) t.mainIndex.putSync(key, vid);
  }
}

function inner<V>(m: Map<number, Map<string, V>>, parent: number): Map<string, V> {
  let x = m.get(parent);
  if (!x) m.set(parent, (x = new Map()));
  return x;
}

const kept = (b: Uint8Array | null) => (b === null ? null : keepBytes(b));

/** The change that puts `n` (its handles by reference: a commit is encoded before anything can change them). */
export function nodeChange(n: NodeFields): JournalChange {
  return { op: 'node', vid: n.vid, type: n.type, parent: n.parent, name: n.name, main: n.main, shadow: n.shadow, mainBlocks: n.mainBlocks };
}

/** The node of a 'node' change, with buffers of its own. */
export function nodeOfChange(c: Extract<JournalChange, { op: 'node' }>): NodeFields {
  return nodeRecord({ vid: c.vid, type: c.type, parent: c.parent, name: c.name, main: kept(c.main), shadow: kept(c.shadow), mainBlocks: c.mainBlocks });
}

/** The change that puts bitmap `bytes` (kept as they are: a bitmap's encoding is not changed afterwards). */
export function bitmapChange(vid: number, bytes: Uint8Array): JournalChange {
  return { op: 'bitmap', vid, bytes };
}
