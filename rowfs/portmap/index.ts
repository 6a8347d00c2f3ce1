export * from './types.js';
export { PORTMAP_PROCEDURES, readMapping, writeMapping } from './procedures.js';
export { PortmapClient } from './client.js';
export { PortmapRegistry } from './registry.js';
export { startPortmapper, type Portmapper } from './portmapper.js';
