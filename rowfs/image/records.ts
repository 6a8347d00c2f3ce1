// The registry's DHT values (XDR, RFC 4506), one kind per table. The DHT signs each value with its
// writer's node key and reports that key as DhtRecord.owner, so no record carries its writer.
//
//   key                              writer            value
//   image/claim/APP                  the app's owner   ClaimRecord   (exclusive `create`)
//   image/versions/APP               owner, publishers VersionsRecord (one per publisher)
//   image/servers/APP/VERSION        each server node  ServerRecord  (TTL, refreshed while serving)
//   image/sharers/APP/VERSION        each client node  SharerRecord  (TTL, refreshed while mounted)
//   image/trace/APP/VERSION          publisher/sharer  TraceRecord   (the blocks a boot reads, in order)
import type { XdrReader, XdrWriter } from '../xdr/index.js';
import { XdrDecodeError } from '../xdr/index.js';
import { checkAppName, checkVersion, MAX_NAME_BYTES } from './names.js';
import { recordCodec, xdrOpaqueLength, utf8Length } from './record-codec.js';
import {
  writeString, readString, writeBytes, readBytes, writeCount, readCount, writeUint, readUint, writeIpv4, readIpv4,
  checkBlockSize, isBlockSize,
} from './fields.js';

export const KEY_BYTES = 32; // Ed25519 public key
export const DIGEST_BYTES = 32; // SHA-256
export const RING_ADDRESS_BYTES = 20;
export const MAX_PUBLISHERS = 16;
export const MAX_VERSIONS_PER_RECORD = 64;
export const MAX_EXPORT_PATH_BYTES = 1024;
/** Bound on VersionInfo.files: the manifest's entry bound. */
export const MAX_FILES = 2_000_000;

export interface ClaimRecord {
  app: string;
  /** Further keys allowed to publish versions of the app (at most 16, distinct). */
  publishers: Uint8Array[];
}

export interface VersionInfo {
  version: string;
  /** SHA-256 of the version's manifest bytes. */
  digest: Uint8Array;
  /** Bytes of regular-file data in the tree. */
  bytes: number;
  /** Regular files in the tree. */
  files: number;
  /** Block size the manifest hashes at. */
  blockSize: number;
  publishedAtMs: number;
}

export interface VersionsRecord {
  app: string;
  /** The version this publisher points new mounts at (it may be one another publisher of the app lists). */
  latest: string;
  /** 1..64 versions, distinct. */
  versions: VersionInfo[];
  /** Wall-clock time `latest` was last chosen: the newest choice among publishers wins. */
  updatedAtMs: number;
}

export interface ServerRecord {
  app: string;
  version: string;
  /** The server's virtual IP, dotted quad. */
  vip: string;
  nfsPort: number;
  mountPort: number;
  /** Absolute export path (<= 1024 bytes, no NUL). */
  exportPath: string;
  /** The server node's ring address. */
  ring: Uint8Array;
  /** Digest of the manifest this server's tree matches. */
  digest: Uint8Array;
  /** TCP port serving the manifest over HTTP. */
  manifestPort: number;
}

export interface SharerRecord {
  app: string;
  version: string;
  ring: Uint8Array;
  sinceMs: number;
  /** Where the mount serves its verified blocks to other mounts of the version (its virtual IP); absent = it does not. */
  peer?: { vip: string; port: number };
}

/** Runs in one trace: 12 bytes each, so the largest record stays under the DHT's 16 KiB. */
export const MAX_TRACE_RUNS = 1200;
/** Blocks one trace run may cover (a run is a stretch of one file read in order). */
export const MAX_TRACE_RUN_BLOCKS = 1 << 20;
/** Blocks a whole trace may cover (what a recorder keeps, BootTrace's bound): a bigger one is refused on read. */
export const MAX_TRACE_BLOCKS = 16_384;

/** One stretch of a boot trace: blocks [first, first + count) of the manifest's entry `entry` (its index). */
export interface TraceRun {
  entry: number;
  first: number;
  count: number;
}

/** The order in which a mount's client first read the version's blocks (a boot), for new mounts to prefetch. */
export interface TraceRecord {
  app: string;
  version: string;
  /** The writer's ring address. */
  ring: Uint8Array;
  /** Digest of the manifest whose entry indexes the runs name. */
  digest: Uint8Array;
  /** When the recording mount started (the first sharer's trace is preferred after the publishers'). */
  recordedAtMs: number;
  runs: TraceRun[];
}

const checkExportPath = (s: string): string => {
  if (!s.startsWith('/') || s.includes('\0')) throw new RangeError(`export path must be absolute without NUL: ${JSON.stringify(s.slice(0, 40))}`);
  return s;
};
const nameLength = (s: string) => xdrOpaqueLength(utf8Length(s));
const writeApp = (w: XdrWriter, s: string) => writeString(w, s, MAX_NAME_BYTES, checkAppName);
const readApp = (r: XdrReader) => readString(r, MAX_NAME_BYTES, checkAppName);
const writeVersion = (w: XdrWriter, s: string) => writeString(w, s, MAX_NAME_BYTES, checkVersion);
const readVersion = (r: XdrReader) => readString(r, MAX_NAME_BYTES, checkVersion);
const writePort = (w: XdrWriter, n: number, what: string) => writeUint(w, n, 1, 65535, what);
const readPort = (r: XdrReader, what: string) => readUint(r, 1, 65535, what);

function checkDistinct<T>(items: T[], key: (v: T) => string, what: string, error: (m: string) => Error): void {
  const seen = new Set<string>();
  for (const v of items) {
    const k = key(v);
    if (seen.has(k)) throw error(`duplicate ${what} ${k.slice(0, 40)}`);
    seen.add(k);
  }
}
const hexKey = (k: Uint8Array) => Buffer.from(k).toString('hex');
const onEncode = (m: string) => new RangeError(m);
const onDecode = (m: string) => new XdrDecodeError('BAD_VALUE', m);

const claim = recordCodec<ClaimRecord>('claim record', 'ICL', {
  write(w, v) {
    writeApp(w, v.app);
    if (v.publishers.length > MAX_PUBLISHERS) throw new RangeError(`at most ${MAX_PUBLISHERS} publishers`);
    checkDistinct(v.publishers, hexKey, 'publisher', onEncode);
    w.array(v.publishers, MAX_PUBLISHERS, (w2, k) => writeBytes(w2, k, KEY_BYTES, 'publisher key'));
  },
  read(r) {
    const app = readApp(r);
    const publishers = r.array(MAX_PUBLISHERS, (r2) => readBytes(r2, KEY_BYTES));
    checkDistinct(publishers, hexKey, 'publisher', onDecode);
    return { app, publishers };
  },
  length: (v) => nameLength(v.app) + 4 + v.publishers.length * KEY_BYTES,
});

function writeVersionInfo(w: XdrWriter, v: VersionInfo): void {
  writeVersion(w, v.version);
  writeBytes(w, v.digest, DIGEST_BYTES, 'digest');
  writeCount(w, v.bytes, 'bytes');
  writeUint(w, v.files, 0, MAX_FILES, 'files');
  w.uint32(checkBlockSize(v.blockSize));
  writeCount(w, v.publishedAtMs, 'publishedAtMs');
}

function readVersionInfo(r: XdrReader): VersionInfo {
  const version = readVersion(r);
  const digest = readBytes(r, DIGEST_BYTES);
  const bytes = readCount(r, 'bytes');
  const files = readUint(r, 0, MAX_FILES, 'files');
  const blockSize = r.uint32();
  if (!isBlockSize(blockSize)) throw new XdrDecodeError('BAD_VALUE', `block size ${blockSize}`);
  return { version, digest, bytes, files, blockSize, publishedAtMs: readCount(r, 'publishedAtMs') };
}

const versions = recordCodec<VersionsRecord>('versions record', 'IVR', {
  write(w, v) {
    writeApp(w, v.app);
    writeVersion(w, v.latest);
    if (v.versions.length < 1 || v.versions.length > MAX_VERSIONS_PER_RECORD) throw new RangeError(`a versions record lists 1..${MAX_VERSIONS_PER_RECORD} versions`);
    checkDistinct(v.versions, (i) => i.version, 'version', onEncode);
    w.array(v.versions, MAX_VERSIONS_PER_RECORD, writeVersionInfo);
    writeCount(w, v.updatedAtMs, 'updatedAtMs');
  },
  read(r) {
    const app = readApp(r);
    const latest = readVersion(r);
    const list = r.array(MAX_VERSIONS_PER_RECORD, readVersionInfo);
    if (list.length === 0) throw new XdrDecodeError('BAD_VALUE', 'a versions record lists no version');
    checkDistinct(list, (i) => i.version, 'version', onDecode);
    return { app, latest, versions: list, updatedAtMs: readCount(r, 'updatedAtMs') };
  },
  length: (v) => nameLength(v.app) + nameLength(v.latest) + 4 + v.versions.reduce((n, i) => n + nameLength(i.version) + DIGEST_BYTES + 8 + 4 + 4 + 8, 0) + 8,
});

const server = recordCodec<ServerRecord>('server record', 'ISV', {
  write(w, v) {
    writeApp(w, v.app);
    writeVersion(w, v.version);
    writeIpv4(w, v.vip);
    writePort(w, v.nfsPort, 'nfsPort');
    writePort(w, v.mountPort, 'mountPort');
    writePort(w, v.manifestPort, 'manifestPort');
    writeString(w, v.exportPath, MAX_EXPORT_PATH_BYTES, checkExportPath);
    writeBytes(w, v.ring, RING_ADDRESS_BYTES, 'ring address');
    writeBytes(w, v.digest, DIGEST_BYTES, 'digest');
  },
  read(r) {
    const app = readApp(r);
    const version = readVersion(r);
    const vip = readIpv4(r);
    const nfsPort = readPort(r, 'nfsPort');
    const mountPort = readPort(r, 'mountPort');
    const manifestPort = readPort(r, 'manifestPort');
    const exportPath = readString(r, MAX_EXPORT_PATH_BYTES, checkExportPath);
    return { app, version, vip, nfsPort, mountPort, manifestPort, exportPath, ring: readBytes(r, RING_ADDRESS_BYTES), digest: readBytes(r, DIGEST_BYTES) };
  },
  length: (v) => nameLength(v.app) + nameLength(v.version) + 4 * 4 + xdrOpaqueLength(utf8Length(v.exportPath)) + RING_ADDRESS_BYTES + DIGEST_BYTES,
});

const sharer = recordCodec<SharerRecord>('sharer record', 'ISH', {
  write(w, v) {
    writeApp(w, v.app);
    writeVersion(w, v.version);
    writeBytes(w, v.ring, RING_ADDRESS_BYTES, 'ring address');
    writeCount(w, v.sinceMs, 'sinceMs');
    w.bool(v.peer !== undefined);
    if (v.peer) {
      writeIpv4(w, v.peer.vip);
      writePort(w, v.peer.port, 'peer port');
    }
  },
  read(r) {
    const rec: SharerRecord = { app: readApp(r), version: readVersion(r), ring: readBytes(r, RING_ADDRESS_BYTES), sinceMs: readCount(r, 'sinceMs') };
    if (r.bool()) rec.peer = { vip: readIpv4(r), port: readPort(r, 'peer port') };
    return rec;
  },
  length: (v) => nameLength(v.app) + nameLength(v.version) + RING_ADDRESS_BYTES + 8 + 4 + (v.peer ? 8 : 0),
});

const trace = recordCodec<TraceRecord>('trace record', 'ITR', {
  write(w, v) {
    writeApp(w, v.app);
    writeVersion(w, v.version);
    writeBytes(w, v.ring, RING_ADDRESS_BYTES, 'ring address');
    writeBytes(w, v.digest, DIGEST_BYTES, 'digest');
    writeCount(w, v.recordedAtMs, 'recordedAtMs');
    if (v.runs.length > MAX_TRACE_RUNS) throw new RangeError(`at most ${MAX_TRACE_RUNS} trace runs`);
    if (v.runs.reduce((n, run) => n + run.count, 0) > MAX_TRACE_BLOCKS) throw new RangeError(`at most ${MAX_TRACE_BLOCKS} trace blocks`);
    w.array(v.runs, MAX_TRACE_RUNS, (w2, run) => {
      writeUint(w2, run.entry, 0, MAX_FILES, 'entry');
      writeUint(w2, run.first, 0, 0xffffffff, 'first');
      writeUint(w2, run.count, 1, MAX_TRACE_RUN_BLOCKS, 'count');
    });
  },
  read(r) {
    const app = readApp(r);
    const version = readVersion(r);
    const ring = readBytes(r, RING_ADDRESS_BYTES);
    const digest = readBytes(r, DIGEST_BYTES);
    const recordedAtMs = readCount(r, 'recordedAtMs');
    const runs = r.array(MAX_TRACE_RUNS, (r2) => ({ entry: readUint(r2, 0, MAX_FILES, 'entry'), first: readUint(r2, 0, 0xffffffff, 'first'), count: readUint(r2, 1, MAX_TRACE_RUN_BLOCKS, 'count') }));
    const blocks = runs.reduce((n, run) => n + run.count, 0);
    if (blocks > MAX_TRACE_BLOCKS) throw new XdrDecodeError('BAD_VALUE', `a trace of ${blocks} blocks (at most ${MAX_TRACE_BLOCKS})`);
    return { app, version, ring, digest, recordedAtMs, runs };
  },
  length: (v) => nameLength(v.app) + nameLength(v.version) + RING_ADDRESS_BYTES + DIGEST_BYTES + 8 + 4 + v.runs.length * 12,
});

export const encodeTraceRecord = trace.encode;
export const decodeTraceRecord = trace.decode;
export const encodedLengthTraceRecord = trace.encodedLength;
export const encodeClaimRecord = claim.encode;
export const decodeClaimRecord = claim.decode;
export const encodedLengthClaimRecord = claim.encodedLength;
export const encodeVersionsRecord = versions.encode;
export const decodeVersionsRecord = versions.decode;
export const encodedLengthVersionsRecord = versions.encodedLength;
export const encodeServerRecord = server.encode;
export const decodeServerRecord = server.decode;
export const encodedLengthServerRecord = server.encodedLength;
export const encodeSharerRecord = sharer.encode;
export const decodeSharerRecord = sharer.decode;
export const encodedLengthSharerRecord = sharer.encodedLength;

