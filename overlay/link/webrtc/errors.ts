// Why a WebRTC dial or an incoming session did not produce a link.
import { RefuseReason } from '../../handshake/messages.js';
import { CodedError } from '../../../lib/coded-error.js';

export type LinkDialErrorCode = 'timeout' | 'refused' | 'failed' | 'rejected' | 'closed';

export class LinkDialError extends CodedError<LinkDialErrorCode> {
  constructor(
    code: LinkDialErrorCode,
    message: string,
    /** For 'refused': the handshake's reason, and whether the peer (not we) refused. */
    readonly refuse?: { reason: RefuseReason; byPeer: boolean },
  ) {
    super(code, message);
  }
}
