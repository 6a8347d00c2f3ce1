export * from './types.js';
export * from './errors.js';
export * from './basic-codec.js';
export { NFS3_PROCEDURES, type Nfs3ProcedureName, type Nfs3ArgsOf, type Nfs3ResOf } from './procedures.js';
export { Nfs3Client, type Nfs3ConnectOptions } from './client.js';
export { nfs3Program, NFS3_NON_IDEMPOTENT, type Nfs3Handlers } from './program.js';
