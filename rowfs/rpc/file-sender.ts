// Sends a file range into a connected TCP socket without passing its bytes through user space
// (sendfile(2) in the native addon). The RPC server uses it for reply bodies that are FileSlices.
import type { FileSlice } from '../xdr/file-slice.js';

export interface FileSender {
  /** Writes `slice` to the socket `socketFd` (nothing else may write to it meanwhile). */
  send(socketFd: number, slice: FileSlice): Promise<void>;
}
