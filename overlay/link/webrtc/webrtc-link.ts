// A Link over one WebRTC PeerConnection: a reliable ordered "control" data channel and an unordered,
// maxRetransmits 0 "data" channel for IP packets. Built by the connector once the link handshake has
// accepted the peer. It holds the PeerConnection and both DataChannels for its whole life: a
// garbage-collected DataChannel closes itself, so dropping a reference would drop the link.
import type { DataChannel, PeerConnection } from 'node-datachannel';
import type { Link, LinkHandlers, LinkInfo } from '../link.js';
import type { RingAddress } from '../../ring/ring.js';
import { describePath } from './ice-config.js';

/** Above this much queued on the data channel, sendData drops: a no-retransmit channel should not add queueing delay. */
export const DATA_BUFFERED_LIMIT_BYTES = 1024 * 1024;
/** Frames kept for a link whose handlers are not installed yet; beyond this the link is failing its owner anyway. */
export const PRE_HANDLER_QUEUE_LIMIT = 4096;

export interface WebRtcLinkParts {
  id: string;
  remote: RingAddress;
  remoteKey: Uint8Array;
  pc: PeerConnection;
  control: DataChannel;
  data: DataChannel;
  /** Called once when the link closes, so the connector forgets it. */
  onGone: (link: WebRtcLink) => void;
  log: (line: string) => void;
  /** Appended to the status detail (e.g. that this link is a TURN fallback, and why). */
  note?: string;
}

type Queued = { channel: 'control' | 'data'; frame: Uint8Array };

export class WebRtcLink implements Link {
  readonly id: string;
  readonly remote: RingAddress;
  readonly remoteKey: Uint8Array;
  private readonly pc: PeerConnection;
  private readonly control: DataChannel;
  private readonly data: DataChannel;
  private handlers?: LinkHandlers;
  private queue: Queued[] = [];
  private closeReason?: string;
  private closeDelivered = false;
  /** Frames dropped: before handlers (queue full), text frames, data over the buffer limit. */
  dropped = 0;

  constructor(private readonly parts: WebRtcLinkParts) {
    this.id = parts.id;
    this.remote = parts.remote;
    this.remoteKey = parts.remoteKey;
    this.pc = parts.pc;
    this.control = parts.control;
    this.data = parts.data;
    this.control.onMessage((m) => this.receive('control', m));
    this.data.onMessage((m) => this.receive('data', m));
    this.control.onClosed(() => this.close('closed by peer'));
    this.data.onClosed(() => this.close('data channel closed'));
    this.control.onError((e) => this.close(`control channel error: ${e}`));
    this.pc.onStateChange((s) => {
      if (s === 'failed' || s === 'closed') this.close(`peer connection ${s}`);
    });
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  setHandlers(handlers: LinkHandlers): void {
    this.handlers = handlers;
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) {
      if (this.closed) break;
      if (q.channel === 'control') handlers.control(q.frame);
      else handlers.data(q.frame);
    }
    if (this.closed) this.deliverClose();
  }

  sendControl(frame: Uint8Array): boolean {
    if (this.closed) return false;
    try {
      // libdatachannel returns false when the message was queued rather than sent at once; queued
      // is still accepted (the channel is reliable), so only a throw means failure.
      this.control.sendMessageBinary(frame);
      return true;
    } catch {
      return false;
    }
  }

  sendData(packet: Uint8Array): boolean {
    if (this.closed) return false;
    try {
      if (!this.data.isOpen() || this.data.bufferedAmount() > DATA_BUFFERED_LIMIT_BYTES) {
        this.dropped++;
        return false;
      }
      this.data.sendMessageBinary(packet); // false only means "queued", see sendControl
      return true;
    } catch {
      return false;
    }
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.parts.log(`link ${this.id} to ${this.remote.toString(16).padStart(40, '0')} closed: ${reason}`);
    // Closing the control channel resets its SCTP stream: the peer sees onClosed right away.
    for (const c of [this.control, this.data]) {
      try {
        c.close();
      } catch {
        /* already closed */
      }
    }
    try {
      this.pc.close();
    } catch {
      /* already closed */
    }
    this.parts.onGone(this);
    this.deliverClose();
  }

  info(): LinkInfo {
    let pair = null;
    let rtt = -1;
    try {
      pair = this.closed ? null : this.pc.getSelectedCandidatePair();
      rtt = this.closed ? -1 : this.pc.rtt();
    } catch {
      /* closed underneath us */
    }
    const info: LinkInfo = { transport: 'webrtc', ...describePath(pair) };
    if (this.parts.note) info.detail += ` [${this.parts.note}]`;
    if (rtt >= 0) info.rttMs = rtt;
    return info;
  }

  private receive(channel: 'control' | 'data', m: string | Buffer | ArrayBuffer): void {
    if (this.closed) return;
    if (typeof m === 'string') {
      this.dropped++; // we only ever send binary
      return;
    }
    const frame = m instanceof ArrayBuffer ? new Uint8Array(m) : new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
    const h = this.handlers;
    if (!h) {
      if (this.queue.length < PRE_HANDLER_QUEUE_LIMIT) this.queue.push({ channel, frame });
      else this.dropped++;
      return;
    }
    if (channel === 'control') h.control(frame);
    else h.data(frame);
  }

  private deliverClose(): void {
    if (this.closeDelivered || !this.handlers) return;
    this.closeDelivered = true;
    this.handlers.close(this.closeReason ?? 'closed');
  }
}
