// Leases persisted as one JSON file, replaced atomically (write a temp file, fsync, rename), so a
// crash mid-write leaves either the old or the new table, never a torn one.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Lease } from '../address-pool.js';
import { makeDirectory } from '../../lib/make-directory.js';
import { CodedError } from '../../lib/coded-error.js';

export class LeaseFileError extends CodedError<'CORRUPT'> {}

const FORMAT_VERSION = 1;

export class LeaseFile {
  constructor(readonly path: string) {}

  /** Leases stored in the file; none when it does not exist. Throws LeaseFileError when it is corrupt. */
  load(): Lease[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new LeaseFileError('CORRUPT', `lease file ${this.path} is not JSON`);
    }
    const d = doc as { version?: unknown; leases?: unknown };
    if (d.version !== FORMAT_VERSION || !Array.isArray(d.leases)) throw new LeaseFileError('CORRUPT', `lease file ${this.path} has an unknown format`);
    const leases: Lease[] = [];
    for (const l of d.leases as Array<Record<string, unknown>>) {
      if (typeof l?.clientId !== 'string' || typeof l.address !== 'string' || typeof l.expiresAtMs !== 'number') {
        throw new LeaseFileError('CORRUPT', `lease file ${this.path} holds a malformed lease`);
      }
      leases.push({ clientId: l.clientId, address: l.address, expiresAtMs: l.expiresAtMs });
    }
    return leases;
  }

  save(leases: readonly Lease[]): void {
    makeDirectory(dirname(this.path));
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o644);
    try {
      writeSync(fd, JSON.stringify({ version: FORMAT_VERSION, leases }, null, 1));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
  }
}
