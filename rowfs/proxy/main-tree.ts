// What the proxy knows of main's tree without asking main: the verified manifest of an immutable
// image version (ReplicatedMain.tree). For main's side of a directory it answers which names exist
// (a name it lacks is absent on every server: a server that lacks one it has is retired as a liar),
// the types of files, directories and symlinks, symlink targets, and main's handles (path handles:
// the very handles main's LOOKUP and READDIRPLUS would carry). Attributes are not in a manifest
// (times, nlink, rdev): they still come from main once and are remembered. The shadow, whiteouts
// and names the proxy recorded are always consulted first, so nothing here hides a shadow change.
import { Ftype3, type FileHandle } from '../nfs3/types.js';
import type { FileType } from '../state/store.js';

export interface MainTreeEntry {
  type: 'dir' | 'file' | 'symlink' | 'other';
  /** Symlinks only. */
  target?: string;
}

export interface MainTree {
  /** The tree path of main's object `fh` ('' is the root), or undefined when it is not known. */
  pathOf(fh: FileHandle): string | undefined;
  /** The entry at `path`, or undefined when main has none. */
  entry(path: string): MainTreeEntry | undefined;
  /** Names in the directory at `path`, or undefined when it is not a directory. */
  names(path: string): string[] | undefined;
  /** How many names `names(path)` would return, without building them (asked on every LOOKUP). */
  childCount(path: string): number | undefined;
  /** Main's handles of `paths` (main resolves them from now on). */
  handles(paths: string[]): Promise<FileHandle[]>;
}

/** The proxy's node type of a manifest type; undefined for 'other' (device, FIFO, socket: main says which). */
export function treeFileType(type: MainTreeEntry['type']): FileType | undefined {
  return type === 'dir' ? Ftype3.DIR : type === 'file' ? Ftype3.REG : type === 'symlink' ? Ftype3.LNK : undefined;
}

export const childPath = (dir: string, name: string): string => (dir === '' ? name : `${dir}/${name}`);
