// Why a WebRTC dial or an incoming session did not produce a link.
import { RefuseReason } from '../../handshake/messages.js';

export type LinkDialErrorCode = 'timeout' | 'refused' | 'failed' | 'rejected' | 'closed';

export class LinkDialError extends Error {
  override name = 'LinkDialError';
  constructor(
    readonly code: LinkDialErrorCode,
    message: string,
    /** For 'refused': the handshake's reason, and whether the peer (not we) refused. */
    readonly refuse?: { reason: RefuseReason; byPeer: boolean },
  ) {
    super(message);
  }
}
