// The image service core: names, registry records and keys, manifests. Pure apart from the tree
// walker (reads files) and the registry (talks to an injected Dht).
export { ImageError, type ImageErrorCode } from './errors.js';
export { checkAppName, checkVersion, compareVersions, registryKeys, MAX_NAME_BYTES } from './names.js';
export * from './records.js';
export { MAX_RECORD_BYTES } from './record-codec.js';
export { DEFAULT_BLOCK_SIZE_BYTES, MIN_BLOCK_SIZE_BYTES, MAX_BLOCK_SIZE_BYTES, checkIpv4 } from './fields.js';
export * from './manifest.js';
export { ImageRegistry, DEFAULT_REGISTRY_TTLS, type ImageRegistryOptions, type RegistryTtls, type ServerEntry, type SharerEntry } from './registry.js';
export { type AppView, type PublishedVersion } from './app-view.js';
export { type GcOptions, type GcStep } from './gc-plan.js';
