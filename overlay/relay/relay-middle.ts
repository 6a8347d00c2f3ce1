// The middle node's side of tunnels: a table of the tunnels it carries and the forwarding rule.
// A frame from end X naming peer P in tunnel T goes to P with the peer field rewritten to X; the
// payload is never decoded. Load is bounded: at most `maxTunnels`, each with a byte budget (token
// bucket on the injected clock); data packets over budget are dropped, a tunnel whose reliable frames
// exceed it is closed (dropping them would break the channel's ordering promise). A tunnel is
// dropped, with CLOSE to the surviving end, as soon as either of our links to its ends goes.
import type { RingAddress } from '../ring/ring.js';
import { encodeClose, encodeRelay, RELAY_OP_INVITE, RelayCloseReason, withPeer, type RelayMessage } from './relay-header.js';
import type { RelayCounter } from './relay-counters.js';

export interface RelayMiddleOptions {
  /** Tunnels carried at once; more OPENs get CLOSE(Busy). */
  maxTunnels: number;
  /** Sustained bytes per second per tunnel (both directions together). */
  tunnelBytesPerSecond: number;
  /** Burst allowance per tunnel, bytes. */
  tunnelBurstBytes: number;
}

export const defaultRelayMiddleOptions: RelayMiddleOptions = {
  maxTunnels: 32,
  // 8 MiB/s (64 Mbit/s) per tunnel: interactive traffic and bulk transfers alike get through, while a
  // relaying node's own uplink is never handed over to one pair of strangers.
  tunnelBytesPerSecond: 8 * 1024 * 1024,
  tunnelBurstBytes: 1024 * 1024,
};

/** The counter for each reason a middle node refuses an OPEN. */
const REFUSAL_COUNTERS = {
  [RelayCloseReason.Refused]: 'relay_middle_refused_refused',
  [RelayCloseReason.NoRoute]: 'relay_middle_refused_noroute',
  [RelayCloseReason.Busy]: 'relay_middle_refused_busy',
} as const satisfies Partial<Record<RelayCloseReason, RelayCounter>>;

export interface RelayMiddleDeps {
  now(): number;
  /** True if we have a live, non-relayed link to `peer` (tunnels never nest). */
  canCarry(peer: RingAddress): boolean;
  sendControl(peer: RingAddress, bytes: Uint8Array): boolean;
  sendData(peer: RingAddress, bytes: Uint8Array): boolean;
  count(name: RelayCounter): void;
}

interface Tunnel {
  /** The end that opened it, and the target. */
  a: RingAddress;
  b: RingAddress;
  id: number;
  tokens: number;
  refilledAt: number;
}

export class RelayMiddle {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly byEnd = new Map<RingAddress, Set<Tunnel>>();

  constructor(private readonly d: RelayMiddleDeps, private readonly o: RelayMiddleOptions = defaultRelayMiddleOptions) {}

  get size(): number {
    return this.tunnels.size;
  }

  /** True if the frame belongs to a tunnel we carry. */
  carries(from: RingAddress, m: RelayMessage): boolean {
    return this.tunnels.has(key(from, m.peer, m.tunnel));
  }

  /** OPEN from `from`: set up a tunnel to `m.peer` and INVITE it, or answer CLOSE. */
  onOpen(from: RingAddress, m: RelayMessage): void {
    const refuse = (reason: keyof typeof REFUSAL_COUNTERS) => {
      this.d.count(REFUSAL_COUNTERS[reason]);
      this.d.sendControl(from, encodeClose(m.tunnel, m.peer, reason));
    };
    if (m.peer === from || this.tunnels.has(key(from, m.peer, m.tunnel))) return refuse(RelayCloseReason.Refused);
    if (!this.d.canCarry(m.peer) || !this.d.canCarry(from)) return refuse(RelayCloseReason.NoRoute);
    if (this.tunnels.size >= this.o.maxTunnels) return refuse(RelayCloseReason.Busy);
    const t: Tunnel = { a: from, b: m.peer, id: m.tunnel, tokens: this.o.tunnelBurstBytes, refilledAt: this.d.now() };
    this.tunnels.set(key(from, m.peer, m.tunnel), t);
    for (const end of [t.a, t.b]) {
      let s = this.byEnd.get(end);
      if (!s) this.byEnd.set(end, (s = new Set()));
      s.add(t);
    }
    this.d.count('relay_middle_opened');
    if (!this.d.sendControl(m.peer, encodeRelay({ op: RELAY_OP_INVITE, tunnel: m.tunnel, peer: from }, m.payload))) this.drop(t, RelayCloseReason.PeerLost, from);
  }

  /** CONTROL or ACCEPT from an end: forward in order, or close the tunnel if it is over its budget. */
  onControl(from: RingAddress, m: RelayMessage, raw: Uint8Array): void {
    const t = this.tunnels.get(key(from, m.peer, m.tunnel));
    if (!t) return this.d.count('relay_middle_unknown_tunnel');
    if (!this.spend(t, raw.length) && t.tokens < -this.o.tunnelBurstBytes) {
      this.d.count('relay_middle_overload_closed');
      return this.drop(t, RelayCloseReason.Overload);
    }
    this.d.count('relay_middle_control_forwarded');
    if (!this.d.sendControl(m.peer, withPeer(raw, from))) this.drop(t, RelayCloseReason.PeerLost, from);
  }

  /** DATA from an end: forward, or drop it when the tunnel is over budget. */
  onData(from: RingAddress, m: RelayMessage, raw: Uint8Array): void {
    const t = this.tunnels.get(key(from, m.peer, m.tunnel));
    if (!t) return this.d.count('relay_middle_unknown_tunnel');
    if (!this.spend(t, raw.length)) {
      t.tokens += raw.length; // not sent: not charged
      return this.d.count('relay_middle_data_dropped_budget');
    }
    this.d.count('relay_middle_data_forwarded');
    this.d.sendData(m.peer, withPeer(raw, from));
  }

  /** CLOSE from an end: tell the other end, forget the tunnel. */
  onClose(from: RingAddress, m: RelayMessage, raw: Uint8Array): void {
    const t = this.tunnels.get(key(from, m.peer, m.tunnel));
    if (!t) return;
    this.forget(t);
    this.d.sendControl(m.peer, withPeer(raw, from));
  }

  /** Our link to `peer` went: every tunnel through it ends; the other ends hear why. */
  linkGone(peer: RingAddress): void {
    const set = this.byEnd.get(peer);
    if (!set) return;
    for (const t of [...set]) {
      this.d.count('relay_middle_dropped_link_gone');
      this.drop(t, RelayCloseReason.PeerLost, peer);
    }
  }

  /** We stop: every end hears CLOSE. */
  stop(): void {
    for (const t of [...this.tunnels.values()]) this.drop(t, RelayCloseReason.PeerLost);
  }

  /** Ends the tunnel and sends CLOSE(reason) to each end except `skip`. */
  private drop(t: Tunnel, reason: RelayCloseReason, skip?: RingAddress): void {
    this.forget(t);
    if (t.a !== skip) this.d.sendControl(t.a, encodeClose(t.id, t.b, reason));
    if (t.b !== skip) this.d.sendControl(t.b, encodeClose(t.id, t.a, reason));
  }

  private forget(t: Tunnel): void {
    this.tunnels.delete(key(t.a, t.b, t.id));
    for (const end of [t.a, t.b]) {
      const s = this.byEnd.get(end);
      s?.delete(t);
      if (s?.size === 0) this.byEnd.delete(end);
    }
  }

  /** Refills, then charges `bytes`; false if the tunnel went below zero (the charge stays). */
  private spend(t: Tunnel, bytes: number): boolean {
    const now = this.d.now();
    t.tokens = Math.min(this.o.tunnelBurstBytes, t.tokens + ((now - t.refilledAt) * this.o.tunnelBytesPerSecond) / 1000);
    t.refilledAt = now;
    t.tokens -= bytes;
    return t.tokens >= 0;
  }
}

/** A tunnel's identity at the middle: both ends (unordered) and the opener's tunnel id. */
function key(x: RingAddress, y: RingAddress, id: number): string {
  return x < y ? `${x.toString(16)}/${y.toString(16)}/${id}` : `${y.toString(16)}/${x.toString(16)}/${id}`;
}
