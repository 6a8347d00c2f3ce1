// The AUTH_SYS credential a client sends is the same bytes call after call (the Linux client sends
// one per mount and user): decoding it for every call cost a reader, a string and an array per call
// (and again in the proxy's in-process shadow). The last credential's parameters are kept and
// shared, frozen, while the bytes stay the same.
import { decodeAuthSys, type AuthSysParams } from './message.js';

export class AuthSysCache {
  private body: Uint8Array | undefined;
  private params: AuthSysParams | undefined;

  /** The parameters of AUTH_SYS body `body` (decodeAuthSys's errors for a bad one); read-only. */
  decode(body: Uint8Array): AuthSysParams {
    const last = this.body;
    if (last !== undefined && last.length === body.length) {
      let i = 0;
      while (i < body.length && last[i] === body[i]) i++;
      if (i === body.length) return this.params!;
    }
    const params = decodeAuthSys(body);
    Object.freeze(params.gids);
    Object.freeze(params);
    this.body = Uint8Array.prototype.slice.call(body); // a copy: `body` may be a view of a pooled record
    this.params = params;
    return params;
  }
}
