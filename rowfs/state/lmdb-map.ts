// The address space an LMDB environment of the proxy maps at once. lmdb-js otherwise starts with a
// 128 KiB map and remaps as the file grows, keeping every earlier map alive: the proxy's state and
// block-cache index each ended up mapped five times (128 KiB .. 6 MiB), and every page read through
// more than one map was counted once per map in the resident set (7.0 and 7.9 MB mapped for files
// of 3.6 and 4.0 MB after the libnfs phases of bench:rowfs). Virtual only: without MDB_WRITEMAP
// the file does not grow to it, and lmdb-js still remaps past it.
export const LMDB_MAP_BYTES = 1024 * 1024 * 1024;
