// Maps a TFTP filename onto a file under the boot directory, refusing anything that would escape it
// ("..", absolute paths outside, symlinks pointing out). Clients send both "/file" and "file";
// both mean the boot directory's "file". Backslashes (some PXE ROMs) are treated as separators.
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { CodedError } from '../../lib/coded-error.js';

export class BootPathError extends CodedError<'traversal' | 'not-found'> {}

/** Pure part: the path the filename names under `root` (already absolute), or a traversal error. */
export function lexicalBootPath(root: string, filename: string): string {
  if (filename.includes('\0')) throw new BootPathError('traversal', 'NUL in filename');
  const parts = filename.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new BootPathError('traversal', `'${filename}' leaves the boot directory`);
  if (parts.length === 0) throw new BootPathError('not-found', `'${filename}' names no file`);
  const full = resolve(root, ...parts);
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep)) throw new BootPathError('traversal', `'${filename}' leaves the boot directory`);
  return full;
}

/** Resolves symlinks too: the real file must still lie inside the real boot directory. */
export async function resolveBootPath(realRoot: string, filename: string): Promise<string> {
  const lexical = lexicalBootPath(realRoot, filename);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    throw new BootPathError('not-found', `'${filename}' not found`);
  }
  if (!real.startsWith(realRoot + sep)) throw new BootPathError('traversal', `'${filename}' resolves outside the boot directory`);
  return real;
}
