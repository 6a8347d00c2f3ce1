// Sends a file range into a connected TCP socket without passing its bytes through user space
// (sendfile(2) in the native addon). The RPC server uses it for reply bodies that are FileSlices.
import type { FileSlice } from '../xdr/file-slice.js';

export interface FileSender {
  /** True when `send` takes a head; else the caller writes those bytes itself first. */
  readonly sendsHead?: boolean;
  /**
   * Writes `head` (when given, only if `sendsHead`: bytes that precede the range in the stream) and
   * then `slice` to the socket `socketFd`. Nothing else may write to it meanwhile, and nothing may be
   * queued for it.
   */
  send(socketFd: number, slice: FileSlice, head?: Uint8Array[]): Promise<void>;
}
