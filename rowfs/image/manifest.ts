// The manifest of an image version: codec (manifest-codec.ts), building and checking a tree
// (manifest-tree.ts), lookup and block verification (manifest-index.ts).
export {
  type Manifest, type ManifestEntry, type ManifestEntryType, encodeManifest, decodeManifest, encodedLengthManifest, manifestDigest,
  checkManifestPath, comparePaths, blocksOf, MAX_MANIFEST_ENTRIES, MAX_PATH_BYTES, MAX_COMPONENT_BYTES, HASH_BYTES,
} from './manifest-codec.js';
export { buildManifest, checkTree, type TreeOptions, type TreeProgress } from './manifest-tree.js';
export { ManifestIndex } from './manifest-index.js';
