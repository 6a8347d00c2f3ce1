// Maps a TFTP filename onto a file under the boot directory, refusing anything that would escape it
// ("..", absolute paths outside, symlinks pointing out). Clients send both "/file" and "file";
// both mean the boot directory's "file". Backslashes (some PXE ROMs) are treated as separators.
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';

export class BootPathError extends Error {
  override name = 'BootPathError';
  constructor(message: string, readonly reason: 'traversal' | 'not-found') {
    super(message);
  }
}

/** Pure part: the path the filename names under `root` (already absolute), or a traversal error. */
export function lexicalBootPath(root: string, filename: string): string {
  if (filename.includes('\0')) throw new BootPathError('NUL in filename', 'traversal');
  const parts = filename.replace(/\\/g, '/').split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new BootPathError(`'${filename}' leaves the boot directory`, 'traversal');
  if (parts.length === 0) throw new BootPathError(`'${filename}' names no file`, 'not-found');
  const full = resolve(root, ...parts);
  if (!full.startsWith(root.endsWith(sep) ? root : root + sep)) throw new BootPathError(`'${filename}' leaves the boot directory`, 'traversal');
  return full;
}

/** Resolves symlinks too: the real file must still lie inside the real boot directory. */
export async function resolveBootPath(realRoot: string, filename: string): Promise<string> {
  const lexical = lexicalBootPath(realRoot, filename);
  let real: string;
  try {
    real = await realpath(lexical);
  } catch {
    throw new BootPathError(`'${filename}' not found`, 'not-found');
  }
  if (!real.startsWith(realRoot + sep)) throw new BootPathError(`'${filename}' resolves outside the boot directory`, 'traversal');
  return real;
}
