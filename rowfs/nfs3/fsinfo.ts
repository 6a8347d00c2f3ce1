// The FSINFO reply (RFC 1813 s3.3.19) both NFSv3 servers here make, the embedded server and the
// proxy, with the transfer sizes they advertise.
import { MAX_FILE_BYTES } from './ranges.js';
import { FSF3_CANSETTIME, FSF3_HOMOGENEOUS, FSF3_LINK, FSF3_SYMLINK, Nfs3Status, type Fattr3, type FsinfoRes } from './types.js';

/** Largest READ/WRITE transfer advertised over TCP (the proxy lowers it to what its backends take). */
export const MAX_IO_BYTES_TCP = 1024 * 1024;
/** Largest READ/WRITE transfer over UDP: one datagram. */
export const MAX_IO_BYTES_UDP = 32 * 1024;
/** Preferred READDIR size (dtpref). */
export const DIR_PREFERRED_BYTES = 64 * 1024;
/** Transfers are best in whole pages (rtmult, wtmult). */
const IO_MULTIPLE_BYTES = 4096;

/** A successful FSINFO: `maxIoBytes` as rtmax/rtpref/wtmax/wtpref, nanosecond times, links and symlinks, settable times. */
export function fsinfoOk(objAttributes: Fattr3 | undefined, maxIoBytes: number, dirPrefBytes = DIR_PREFERRED_BYTES): FsinfoRes {
  return {
    status: Nfs3Status.OK,
    objAttributes,
    rtmax: maxIoBytes,
    rtpref: maxIoBytes,
    rtmult: IO_MULTIPLE_BYTES,
    wtmax: maxIoBytes,
    wtpref: maxIoBytes,
    wtmult: IO_MULTIPLE_BYTES,
    dtpref: dirPrefBytes,
    maxfilesize: BigInt(MAX_FILE_BYTES),
    timeDelta: { seconds: 0, nseconds: 1 },
    properties: FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME,
  };
}
