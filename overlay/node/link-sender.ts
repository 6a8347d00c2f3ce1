// Sends link frames to linked peers and counts them: user-app routed frames apart from the overlay's
// own control traffic (the figure the simulator reports as control messages per node and minute).
import type { Link } from '../link/link.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { encodeLinkFrame, FRAME_LOCAL, FRAME_ROUTED, type LinkFrame } from '../wire/link-frame.js';
import { FIRST_USER_APP } from './app-tags.js';
import type { NodeCounter } from './counters.js';

export interface LinkSenderHost {
  readonly table: Pick<ConnectionTable, 'get'>;
  count(name: NodeCounter): void;
}

export class LinkSender {
  constructor(private readonly host: LinkSenderHost) {}

  /** On a link outside the table (one being closed by BYE). */
  sendFrameOn(link: Link, f: LinkFrame): boolean {
    this.host.count('control_frames_out');
    return link.sendControl(encodeLinkFrame(f));
  }

  sendFrame(e: TableEntry, f: LinkFrame): boolean {
    return this.sendEncoded(e, encodeLinkFrame(f), f.type === FRAME_ROUTED ? f.app : undefined);
  }

  /** Sends encoded frame bytes; `app` for routed frames (user apps are counted apart). */
  sendEncoded(e: TableEntry, bytes: Uint8Array, app?: number): boolean {
    const ok = e.link.sendControl(bytes);
    if (!ok) this.host.count('frames_send_failed');
    if (app !== undefined && app >= FIRST_USER_APP) this.host.count('app_frames_out');
    else this.host.count('control_frames_out');
    return ok;
  }

  /** A LOCAL frame of `kind` to a linked peer; false if there is no link. */
  sendLocal(peer: RingAddress, kind: number, payload: Uint8Array): boolean {
    const e = this.host.table.get(peer);
    if (!e) return false;
    return this.sendFrame(e, { type: FRAME_LOCAL, kind, payload });
  }
}
