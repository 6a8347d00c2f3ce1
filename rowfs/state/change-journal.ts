// The state store's change journal: every commit is one record appended to a plain file with a
// single write(2), so it is in the OS page cache (survives a crash of the process) when the commit
// returns, at a few microseconds where an LMDB write transaction took 20 us idle and 80-130 us
// beside a busy VM. The store applies the journalled changes to LMDB in batches (store.ts) and, once
// an fdatasync of LMDB covers a batch, deletes the journal files that held it. Files are
// generations (journal-N.log): a batch's apply starts a new generation, so records appended while
// the batch's fdatasync runs are never deleted with it.
// Record: u32 payload length, u32 CRC-32 of the payload, payload (the commit's changes,
// journal-codec.ts; JSON with base64 handles in files left by earlier versions, still read).
// After a machine crash a journal's unsynced tail may be torn or zeroed: reading stops at the first
// record that is short or fails its CRC, and what came after it in that file is not trusted.
import { closeSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { decodeJournalChanges, encodeJournalChanges, journalPayloadBytes, type JournalChange } from './journal-codec.js';

export type { JournalChange } from './journal-codec.js';

const HEADER_BYTES = 8;
/** A record longer than this is damage, not a commit (the largest is a bitmap of a huge file). */
const MAX_RECORD_BYTES = 64 << 20;
/** Records up to this long (every commit but a large bitmap) are encoded in one reused buffer. */
const RECORD_SCRATCH_BYTES = 16 * 1024;
/** A JSON payload (journal files left by earlier versions) starts with '['. */
const JSON_PAYLOAD_START = 0x5b;
const FILE_RE = /^journal-(\d{1,15})\.log$/;

export class ChangeJournal {
  private fd: number;
  /** A write failed part-way: the current file may end in a torn record, so the next append starts a new one. */
  private torn = false;
  /** Records appended to the current file. */
  private inCurrent = 0;
  /** Where records up to RECORD_SCRATCH_BYTES are encoded (appends are synchronous: one at a time). */
  private scratch: Buffer | undefined;

  private constructor(
    private readonly dir: string,
    private gen: number,
  ) {
    this.fd = openSync(this.pathOf(gen), 'a');
  }

  /**
   * Opens the journal of `dir`: the commits found in the files left there (oldest first, each
   * file's valid prefix), and a journal appending to a new generation after them.
   */
  static open(dir: string): { journal: ChangeJournal; found: JournalChange[][]; lastFound: number } {
    const gens = readdirSync(dir)
      .map((f) => FILE_RE.exec(f)?.[1])
      .filter((g): g is string => g !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const found: JournalChange[][] = [];
    for (const g of gens) found.push(...readRecords(readFileSync(join(dir, `journal-${g}.log`))));
    const journal = new ChangeJournal(dir, (gens.at(-1) ?? 0) + 1);
    return { journal, found, lastFound: gens.at(-1) ?? 0 };
  }

  /** Appends one commit's changes with a single write (on disk as far as the page cache, when it returns). */
  append(changes: readonly JournalChange[]): void {
    const length = journalPayloadBytes(changes);
    const rec = this.recordBuffer(HEADER_BYTES + length);
    const end = encodeJournalChanges(rec, HEADER_BYTES, changes);
    if (end !== rec.length) throw new Error(`journal record encoded to ${end - HEADER_BYTES} bytes, not ${length}`);
    rec.writeUInt32BE(length, 0);
    rec.writeUInt32BE(crc32(rec.subarray(HEADER_BYTES)), 4);
    // Records after a torn one could not be read back (reading stops there): a new file instead.
    if (this.torn && this.rotate() === undefined) throw new Error('cannot start a new journal file after a failed write');
    this.torn = false;
    let done = 0;
    try {
      while (done < rec.length) done += writeSync(this.fd, rec, done, rec.length - done);
      this.inCurrent++;
    } catch (e) {
      this.torn = true; // even a write that reported nothing may have stored part of the record
      throw e;
    }
  }

  /** A buffer of `n` bytes for one record: a view of one kept for the journal's life when it fits. */
  private recordBuffer(n: number): Buffer {
    if (n > RECORD_SCRATCH_BYTES) return Buffer.allocUnsafe(n);
    this.scratch ??= Buffer.allocUnsafe(RECORD_SCRATCH_BYTES);
    return this.scratch.subarray(0, n);
  }

  /**
   * Starts the next generation and returns the one it ends (every record so far is in it or
   * before it); undefined, and appends stay where they were, when the new file cannot be made.
   */
  rotate(): number | undefined {
    let fd: number;
    try {
      fd = openSync(this.pathOf(this.gen + 1), 'a');
    } catch {
      return undefined;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.inCurrent = 0;
    this.torn = false;
    return this.gen++;
  }

  /** Deletes the files of generations up to `gen` (their records are in LMDB, synced). */
  drop(gen: number): void {
    for (const g of this.generationsUpTo(gen)) {
      try {
        unlinkSync(this.pathOf(g));
      } catch {
        /* gone already */
      }
    }
  }

  /**
   * Deletes the files of every generation before the current one (whatever rotate ended); false,
   * and nothing deleted, when the current file holds records (its rotation failed).
   */
  dropEnded(): boolean {
    if (this.inCurrent > 0 || this.torn) return false;
    this.drop(this.gen - 1);
    return true;
  }

  close(): void {
    closeSync(this.fd);
  }

  private generationsUpTo(gen: number): number[] {
    return readdirSync(this.dir)
      .map((f) => Number(FILE_RE.exec(f)?.[1] ?? Number.NaN))
      .filter((g) => g <= gen);
  }

  private pathOf(gen: number): string {
    return join(this.dir, `journal-${gen}.log`);
  }
}

/** The commits of one journal file, up to the first damaged record. */
export function readRecords(buf: Buffer): JournalChange[][] {
  const out: JournalChange[][] = [];
  let at = 0;
  while (at + HEADER_BYTES <= buf.length) {
    const len = buf.readUInt32BE(at);
    if (len > MAX_RECORD_BYTES || at + HEADER_BYTES + len > buf.length) break;
    const payload = buf.subarray(at + HEADER_BYTES, at + HEADER_BYTES + len);
    if (crc32(payload) !== buf.readUInt32BE(at + 4)) break;
    let changes: JournalChange[] | undefined;
    try {
      changes = payload[0] === JSON_PAYLOAD_START ? fromJson(payload) : decodeJournalChanges(payload, 0, payload.length);
    } catch {
      changes = undefined; // damage that passed the CRC: nothing after it is trusted either
    }
    if (!changes) break;
    out.push(changes);
    at += HEADER_BYTES + len;
  }
  return out;
}

/** A JSON record of an earlier version (handles and bitmaps base64), or undefined when damaged. */
function fromJson(payload: Buffer): JournalChange[] | undefined {
  const changes: unknown = JSON.parse(payload.toString('utf8'));
  if (!Array.isArray(changes) || !changes.every(isJsonChange)) return undefined;
  const bytes = (b: string | null) => (b === null ? null : new Uint8Array(Buffer.from(b, 'base64')));
  return changes.map((c: JournalChange & Record<string, unknown>) => {
    if (c.op === 'node') return { ...c, main: bytes(c.main as unknown as string | null), shadow: bytes(c.shadow as unknown as string | null) };
    if (c.op === 'bitmap') return { ...c, bytes: bytes(c.bytes as unknown as string)! };
    return c;
  });
}

const isInt = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isStr = (x: unknown): x is string => typeof x === 'string';
const isB64 = (x: unknown): boolean => x === null || isStr(x);

/** A change of the shape earlier versions wrote (a record that passed its CRC but not this is damage). */
function isJsonChange(x: unknown): boolean {
  if (typeof x !== 'object' || x === null) return false;
  const c = x as Record<string, unknown>;
  switch (c.op) {
    case 'node':
      return isInt(c.vid) && isInt(c.type) && isInt(c.parent) && isStr(c.name) && isB64(c.main) && isB64(c.shadow) && isInt(c.mainBlocks);
    case 'rmnode':
      return isInt(c.vid);
    case 'name':
      return isInt(c.parent) && isStr(c.name) && isInt(c.vid);
    case 'rmname':
    case 'whiteout':
    case 'rmwhiteout':
      return isInt(c.parent) && isStr(c.name);
    case 'bitmap':
      return isInt(c.vid) && isStr(c.bytes);
    case 'mainIndex':
      return isStr(c.key) && isInt(c.vid);
    default:
      return false;
  }
}
