// One error class for everything the TUN device can refuse, with a string code tests can match.
import { CodedError } from '../../lib/coded-error.js';
export type TunErrorCode =
  | 'EPERM' // not root / no CAP_NET_ADMIN
  | 'EACCES'
  | 'ENOENT' // no /dev/net/tun (no tun module, or a container without the device)
  | 'ENODEV'
  | 'EBUSY' // the interface name is taken, or reading was already started
  | 'EINVAL'
  | 'EEXIST'
  | 'EBADF' // used after close
  | 'EMSGSIZE'
  | 'EIO' // also any errno outside addon_errno_name's table (lib/native/napi-util.c); the message has the errno
  | 'ENOMEM'
  | 'ENOTSOCK'
  | 'ENETUNREACH'
  | 'EADDRNOTAVAIL'
  | 'EADDRINUSE'
  | 'ECONNREFUSED'
  | 'ETIMEDOUT'
  | 'EAGAIN'
  | 'ENOBUFS'
  | 'EMFILE'
  | 'ENFILE'
  | 'ADDON_MISSING' // the native addon was not built (npm ci runs node-gyp)
  | 'NAPI';

export class TunError extends CodedError<TunErrorCode> {
  /** Wraps an error thrown by the addon (code "TUN_<X>") into a TunError; other errors pass through. */
  static fromNative(err: unknown, context: string): unknown {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e?.code === 'string' && e.code.startsWith('TUN_')) {
      const code = e.code.slice(4) as TunErrorCode;
      const hint =
        code === 'EPERM' || code === 'EACCES'
          ? ' (creating a TUN device needs root or CAP_NET_ADMIN)'
          : code === 'ENOENT' || code === 'ENODEV'
            ? ' (is the tun kernel module loaded and /dev/net/tun present?)'
            : '';
      return new TunError(code, `${context}: ${String(e.message)}${hint}`);
    }
    return err;
  }
}
