// What a STUN server says to one datagram (RFC 8489 section 6.3), without sockets: a Binding request
// gets a success response with XOR-MAPPED-ADDRESS = the datagram's source (and FINGERPRINT); a Binding
// request with an unknown comprehension-required attribute gets 420 (section 6.3.1.1); everything
// else (not STUN, malformed, a bad FINGERPRINT, other methods and classes) is dropped with a reason,
// never answered, so the responder cannot be made to talk to third parties about junk.
import {
  ATTR_ERROR_CODE,
  ATTR_MAPPED_ADDRESS,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_MESSAGE_INTEGRITY_SHA256,
  ATTR_NONCE,
  ATTR_PASSWORD_ALGORITHM,
  ATTR_PRIORITY,
  ATTR_REALM,
  ATTR_UNKNOWN_ATTRIBUTES,
  ATTR_USE_CANDIDATE,
  ATTR_USERHASH,
  ATTR_USERNAME,
  ATTR_XOR_MAPPED_ADDRESS,
  COMPREHENSION_OPTIONAL_FIRST,
  decodeStunMessage,
  encodeErrorCode,
  encodeStunMessage,
  encodeUnknownAttributes,
  encodeXorMappedAddress,
  StunClass,
  StunCodecError,
  STUN_METHOD_BINDING,
  type TransportAddress,
} from './stun-codec.js';

/**
 * Comprehension-required attributes a Binding server may safely ignore: it runs no credential
 * mechanism (section 9 makes authentication optional for Binding), so integrity and user attributes
 * are not checked, and ICE's PRIORITY / USE-CANDIDATE mean nothing to a server.
 */
const IGNORABLE_REQUIRED = new Set([
  ATTR_MAPPED_ADDRESS,
  ATTR_USERNAME,
  ATTR_MESSAGE_INTEGRITY,
  ATTR_ERROR_CODE,
  ATTR_UNKNOWN_ATTRIBUTES,
  ATTR_REALM,
  ATTR_NONCE,
  ATTR_MESSAGE_INTEGRITY_SHA256,
  ATTR_PASSWORD_ALGORITHM,
  ATTR_USERHASH,
  ATTR_XOR_MAPPED_ADDRESS,
  ATTR_PRIORITY,
  ATTR_USE_CANDIDATE,
]);

export type StunDropReason = 'malformed' | 'not_binding_request' | 'trailing_bytes';

export type StunAnswer = { reply: Uint8Array; kind: 'binding' | 'unknown_attribute' } | { drop: StunDropReason };

export function answerStun(datagram: Uint8Array, source: TransportAddress): StunAnswer {
  let decoded;
  try {
    decoded = decodeStunMessage(datagram, 0);
  } catch (err) {
    if (err instanceof StunCodecError) return { drop: 'malformed' };
    throw err;
  }
  const { message: m, bytesUsed } = decoded;
  // One message per datagram (section 6.1): anything after it is not STUN.
  if (bytesUsed !== datagram.length) return { drop: 'trailing_bytes' };
  if (m.method !== STUN_METHOD_BINDING || m.cls !== StunClass.Request) return { drop: 'not_binding_request' };
  const unknown = [...new Set(m.attributes.map((a) => a.type).filter((t) => t < COMPREHENSION_OPTIONAL_FIRST && !IGNORABLE_REQUIRED.has(t)))];
  if (unknown.length > 0) {
    const reply = encodeStunMessage({
      method: STUN_METHOD_BINDING,
      cls: StunClass.ErrorResponse,
      transactionId: m.transactionId,
      attributes: [
        { type: ATTR_ERROR_CODE, value: encodeErrorCode(420, 'Unknown Attribute') },
        { type: ATTR_UNKNOWN_ATTRIBUTES, value: encodeUnknownAttributes(unknown) },
      ],
      fingerprint: true,
    });
    return { reply, kind: 'unknown_attribute' };
  }
  const reply = encodeStunMessage({
    method: STUN_METHOD_BINDING,
    cls: StunClass.SuccessResponse,
    transactionId: m.transactionId,
    attributes: [{ type: ATTR_XOR_MAPPED_ADDRESS, value: encodeXorMappedAddress(source, m.transactionId) }],
    // Section 7.3: clients that multiplex STUN with other traffic (ICE agents do) tell it apart by this.
    fingerprint: true,
  });
  return { reply, kind: 'binding' };
}
