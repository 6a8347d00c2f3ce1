export * from './types.js';
export { MOUNT_PROCEDURES } from './procedures.js';
export { MountClient } from './client.js';
export { mountProgram, type MountHandlers } from './program.js';
export { openExport, MountError, type OpenExportOptions, type OpenedExport } from './open-export.js';
