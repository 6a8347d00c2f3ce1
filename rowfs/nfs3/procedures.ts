// Codecs for all 22 NFSv3 procedures (RFC 1813 s3.3): arguments and results, each both ways, so
// the same table serves the client (encode args, decode results), the server (decode args, encode
// results) and a proxy (all four). The codecs themselves are in file-codecs.ts (one object),
// namespace-codecs.ts (names in directories) and directory-codecs.ts (listings, file system).
import type { ProcedureCodec } from '../rpc/procedure-codec.js';
import { ACCESS, COMMIT, GETATTR, LOOKUP, NULL, READ, READLINK, SETATTR, WRITE } from './file-codecs.js';
import { CREATE, LINK, MKDIR, MKNOD, REMOVE, RENAME, RMDIR, SYMLINK } from './namespace-codecs.js';
import { FSINFO, FSSTAT, PATHCONF, READDIR, READDIRPLUS } from './directory-codecs.js';

export * from './file-codecs.js';
export * from './namespace-codecs.js';
export * from './directory-codecs.js';

/** Every procedure by name, in procedure-number order. */
export const NFS3_PROCEDURES = {
  NULL,
  GETATTR,
  SETATTR,
  LOOKUP,
  ACCESS,
  READLINK,
  READ,
  WRITE,
  CREATE,
  MKDIR,
  SYMLINK,
  MKNOD,
  REMOVE,
  RMDIR,
  RENAME,
  LINK,
  READDIR,
  READDIRPLUS,
  FSSTAT,
  FSINFO,
  PATHCONF,
  COMMIT,
} as const;

export type Nfs3ProcedureName = keyof typeof NFS3_PROCEDURES;
type ArgsOf<C> = C extends ProcedureCodec<infer A, any> ? A : never;
type ResOf<C> = C extends ProcedureCodec<any, infer R> ? R : never;
export type Nfs3ArgsOf<N extends Nfs3ProcedureName> = ArgsOf<(typeof NFS3_PROCEDURES)[N]>;
export type Nfs3ResOf<N extends Nfs3ProcedureName> = ResOf<(typeof NFS3_PROCEDURES)[N]>;
