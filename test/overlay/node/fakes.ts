// Doubles for the node's parts: a link that records what is sent on it, and table entries.
import type { Link, LinkHandlers, LinkInfo } from '../../../overlay/link/link.js';
import type { RingAddress } from '../../../overlay/ring/ring.js';
import type { TableEntry } from '../../../overlay/routing-table/connection-table.js';
import { decodeLinkFrame, type LinkFrame } from '../../../overlay/wire/link-frame.js';

let nextId = 0;

export class RecordingLink implements Link {
  readonly id = `rec-${++nextId}`;
  readonly remoteKey = new Uint8Array(32);
  closed = false;
  closeReason: string | undefined;
  handlers: LinkHandlers | undefined;
  readonly sent: Uint8Array[] = [];
  readonly data: Uint8Array[] = [];

  constructor(
    readonly remote: RingAddress,
    readonly relayedVia?: RingAddress,
  ) {}

  setHandlers(handlers: LinkHandlers): void {
    this.handlers = handlers;
  }
  sendControl(frame: Uint8Array): boolean {
    if (this.closed) return false;
    this.sent.push(frame);
    return true;
  }
  sendData(packet: Uint8Array): boolean {
    if (this.closed) return false;
    this.data.push(packet);
    return true;
  }
  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.handlers?.close(reason);
  }
  info(): LinkInfo {
    return { transport: 'test', path: this.relayedVia === undefined ? 'direct' : 'relayed', detail: '' };
  }
  /** The frames sent so far, decoded. */
  frames(): LinkFrame[] {
    return this.sent.map((b) => decodeLinkFrame(b));
  }
}

export function entry(address: RingAddress, o: Partial<TableEntry> = {}): TableEntry {
  return {
    address,
    link: new RecordingLink(address),
    dialedByUs: false,
    far: false,
    shortcut: false,
    bootstrap: false,
    transit: true,
    remoteWants: true,
    announcedWant: true,
    addedAt: 0,
    lastHeard: 0,
    lastUsed: 0,
    ...o,
  };
}

/** Counts by name, as the node's Counters does. */
export function counting(): { counts: Record<string, number>; count(name: string): void } {
  const counts: Record<string, number> = {};
  return { counts, count: (name: string) => void (counts[name] = (counts[name] ?? 0) + 1) };
}
