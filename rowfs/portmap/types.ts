// Portmapper version 2 (RFC 1833 s3): maps (program, version, protocol) to a port.
export const PORTMAP_PROGRAM = 100000;
export const PORTMAP_VERSION = 2;
export const PORTMAP_PORT = 111;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
/** Implementation cap on DUMP list length. */
export const MAX_PORTMAP_ENTRIES = 4096;

export enum PortmapProc {
  NULL = 0,
  SET = 1,
  UNSET = 2,
  GETPORT = 3,
  DUMP = 4,
}

export interface PortMapping {
  prog: number;
  vers: number;
  prot: number;
  port: number;
}
