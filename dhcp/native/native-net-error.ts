// Errors of the boot-network addon: `code` is "NET_<errno name>" (NET_EPERM, NET_ENODEV, ...) or
// ADDON_MISSING when build/Release/bootnet.node was not built.
import { CodedError } from '../../lib/coded-error.js';
export class NativeNetError extends CodedError<string> {}

/** Rethrows an addon error (a plain Error with a NET_* code) as a NativeNetError. */
export function asNativeNetError(err: unknown): NativeNetError {
  if (err instanceof NativeNetError) return err;
  const e = err as { code?: unknown; message?: unknown };
  return new NativeNetError(typeof e?.code === 'string' ? e.code : 'NET_EIO', typeof e?.message === 'string' ? e.message : String(err));
}
