// Every node record is built by one function, so every record has one hidden class. Records used
// to come from four shapes (an object literal in a create, a spread of LMDB's decoded object, a
// spread in a truncate or copy-up, the journal's decoder): the proxy's hot functions (nodeOf,
// resolve, checkName, ensureShadow, ...) met a second shape whenever a workload moved from nodes
// still in the pending batch to nodes read back from LMDB, and V8 threw their optimized code away
// at the start of every round of creates (`--trace-deopt`: "wrong map", docs/rowfs.md).
import type { NodeFields } from './pending-changes.js';

/** A new record with `f`'s fields, in the one field order every record has. */
export function nodeRecord<N extends NodeFields>(f: NodeFields): N {
  return { vid: f.vid, type: f.type, parent: f.parent, name: f.name, main: f.main, shadow: f.shadow, mainBlocks: f.mainBlocks } as N;
}
