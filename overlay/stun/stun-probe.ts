// Is a STUN server still answering? One Binding request from a fresh UDP socket, retransmitted at an
// RTO that doubles (RFC 8489 section 6.2.1, with fewer tries: a probe only has to tell "answers" from
// "gone"); true on a success response carrying our transaction id. The node probes the learned
// server its ICE agent uses (stun-directory.ts), so a member that left is replaced.
import { createSocket } from 'node:dgram';
import type { Clock, Random, Timer } from '../../lib/clock.js';
import { decodeStunMessage, encodeStunMessage, STUN_METHOD_BINDING, STUN_TRANSACTION_ID_BYTES, StunClass, StunCodecError } from './stun-codec.js';

/** First retransmission after this (RFC 8489 section 6.2.1's default RTO). */
export const STUN_PROBE_RTO_MS = 500;
/** Requests sent: at 0, 0.5 and 1.5 s; the probe gives up at 3.5 s. */
export const STUN_PROBE_TRIES = 3;

export interface StunProbeDeps {
  clock: Clock;
  random: Random;
  /** Local address to send from (the node's --bind-address), so the probe leaves as ICE would. */
  bindAddress?: string;
}

/** `stun:HOST:PORT` (HOST may be `[v6]`) -> host and port, or undefined. */
export function parseStunUrl(url: string): { host: string; port: number } | undefined {
  const m = /^stun:(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(url);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Resolves true if the server at `url` answers a Binding request within the tries, else false. Never rejects. */
export function probeStun(url: string, d: StunProbeDeps): Promise<boolean> {
  const target = parseStunUrl(url);
  if (!target) return Promise.resolve(false);
  const transactionId = d.random.bytes(STUN_TRANSACTION_ID_BYTES);
  const request = encodeStunMessage({ method: STUN_METHOD_BINDING, cls: StunClass.Request, transactionId, attributes: [], fingerprint: true });
  const socket = createSocket({ type: target.host.includes(':') ? 'udp6' : 'udp4' });
  return new Promise<boolean>((resolve) => {
    let timer: Timer | undefined;
    let done = false;
    const finish = (answered: boolean) => {
      if (done) return;
      done = true;
      timer?.cancel();
      socket.close();
      resolve(answered);
    };
    // An unreachable host or port shows up here (ICMP errors): the probe just failed.
    socket.on('error', () => finish(false));
    socket.on('message', (msg) => {
      try {
        const { message } = decodeStunMessage(new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
        if (message.cls === StunClass.SuccessResponse && message.method === STUN_METHOD_BINDING && Buffer.from(message.transactionId).equals(Buffer.from(transactionId))) finish(true);
      } catch (err) {
        if (!(err instanceof StunCodecError)) throw err; // not a STUN answer: keep waiting
      }
    });
    let tries = 0;
    const send = () => {
      if (done) return;
      if (tries === STUN_PROBE_TRIES) return finish(false);
      const wait = STUN_PROBE_RTO_MS * 2 ** tries;
      tries++;
      socket.send(request, target.port, target.host, (err) => err && finish(false));
      timer = d.clock.setTimeout(send, wait);
    };
    socket.bind(0, d.bindAddress, send);
  });
}
