export { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from './embedded-server.js';
export { LocalExport, type LocalExportOptions, checkName } from './local-export.js';
export { MountService } from './mount-service.js';
export { HANDLE_BYTES, encodeHandle, decodeHandle } from './file-handles.js';
