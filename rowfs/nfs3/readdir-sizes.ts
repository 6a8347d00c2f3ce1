// Encoded sizes by which READDIR and READDIRPLUS replies are filled up to the client's count,
// maxcount and dircount (RFC 1813 s3.3.16-17), in XDR bytes; one copy for both servers.

/** status, post_op_attr of the directory, cookie verifier, end of the entry list, eof. */
export const READDIR_FIXED_BYTES = 4 + 4 + 84 + 8 + 4 + 4;
/** value-follows, fileid, cookie of one entry (its name apart). */
export const ENTRY_FIXED_BYTES = 4 + 8 + 8;

/** An XDR string: length word and the bytes padded to 4. */
export function xdrNameBytes(name: string): number {
  return 4 + ((Buffer.byteLength(name) + 3) & ~3);
}

/** One READDIR entry: fixed part and name (what dircount counts in READDIRPLUS). */
export function entryBytes(name: string): number {
  return ENTRY_FIXED_BYTES + xdrNameBytes(name);
}

/** What READDIRPLUS adds to an entry: post_op_attr (fattr3) and post_op_fh3 with a handle of `handleBytes` (a multiple of 4). */
export function entryPlusExtraBytes(handleBytes: number): number {
  return 4 + 84 + 4 + 4 + handleBytes;
}
