// The one rule for names that cross the NFS wire (RFC 1813 s2.5 filename3: "a single pathname
// component"): every server and proxy here checks each name a client sends, and each name a
// backend lists, with `componentFault` before the name reaches a disk path, a backend call or
// stored state. Servers differ in what they accept (nfs-ganesha 4.3 follows "/etc/shadow" in a
// LOOKUP), so nothing relies on the far side to refuse.
import { Nfs3Status } from './types.js';

/** Linux NAME_MAX: the longest component (bytes of UTF-8) any name may have. */
export const NAME_MAX_BYTES = 255;

/**
 * Why `name` is not one path component, or undefined when it is: empty, containing "/" or NUL
 * (INVAL), or longer than NAME_MAX_BYTES (NAMETOOLONG). "." and ".." are components; what they
 * mean is each procedure's business (they must never lead outside the export).
 */
export function componentFault(name: string): Nfs3Status.INVAL | Nfs3Status.NAMETOOLONG | undefined {
  if (name.length === 0 || name.includes('/') || name.includes('\0')) return Nfs3Status.INVAL;
  // UTF-8 takes at most 3 bytes per UTF-16 unit: only long strings need counting.
  if (name.length * 3 > NAME_MAX_BYTES && Buffer.byteLength(name) > NAME_MAX_BYTES) return Nfs3Status.NAMETOOLONG;
  return undefined;
}

/** "." or "..": components that name the directory itself or its parent. */
export function isDotName(name: string): boolean {
  return name === '.' || name === '..';
}

/** One path component other than "." and "..": the only names a directory entry may carry. */
export function isPlainComponent(name: string): boolean {
  return componentFault(name) === undefined && !isDotName(name);
}
