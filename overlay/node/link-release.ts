// Letting go of links without losing what is in flight. Each side tells the other whether it still
// wants a link (WANT frames, sent when the answer changes); a link neither side wants is released by
// BYE: the sender stops using it, the peer stops too and answers BYE(ack), and the first sender then
// closes it (or after byeTimeoutMs without an answer).
import type { Clock, Timer } from '../../lib/clock.js';
import type { Link } from '../link/link.js';
import type { ConnectionTable, TableEntry } from '../routing-table/connection-table.js';
import { FRAME_BYE, FRAME_WANT, type ByeFrame, type LinkFrame, type WantFrame } from '../wire/link-frame.js';
import type { OverlayOptions } from './options.js';

export interface LinkReleaseHost {
  readonly clock: Clock;
  readonly options: Pick<OverlayOptions, 'byeTimeoutMs' | 'bootstrapGraceMs'>;
  readonly table: Pick<ConnectionTable, 'isNear'>;
  sendFrame(e: TableEntry, f: LinkFrame): boolean;
  sendFrameOn(link: Link, f: LinkFrame): boolean;
  /** Forgets a table entry; 'bye' asks this part to release its link, 'none' leaves the link alone. */
  dropEntry(e: TableEntry, reason: string, how: 'bye' | 'none'): void;
}

export class LinkRelease {
  /** Links we said BYE on, waiting for the peer's ack before closing. */
  private readonly byes = new Map<Link, Timer>();

  constructor(private readonly host: LinkReleaseHost) {}

  /** Whether we want the link to `e`; `near`: the caller's fresh `table.isNear(e.address)`, if it has one. */
  wants(e: TableEntry, now: number, near = this.host.table.isNear(e.address)): boolean {
    return near || e.far || e.shortcut || (e.bootstrap && now - e.addedAt < this.host.options.bootstrapGraceMs);
  }

  /** Tells the peer if our wish changed; returns it. */
  announceWant(e: TableEntry, now: number, near?: boolean): boolean {
    const want = this.wants(e, now, near);
    if (want !== e.announcedWant) {
      e.announcedWant = want;
      this.host.sendFrame(e, { type: FRAME_WANT, want });
    }
    return want;
  }

  /** Stops using `link` and asks the peer to let go too; closes it on the ack or after byeTimeoutMs. */
  sayBye(link: Link, reason: string): void {
    if (link.closed || this.byes.has(link)) return;
    this.host.sendFrameOn(link, { type: FRAME_BYE, ack: false });
    this.byes.set(
      link,
      this.host.clock.setTimeout(() => {
        this.byes.delete(link);
        link.close(reason);
      }, this.host.options.byeTimeoutMs),
    );
  }

  /** WANT on the table's link to `e` (`e.lastHeard` is its arrival time). */
  onWant(e: TableEntry, f: WantFrame): void {
    e.remoteWants = f.want;
    if (!f.want && !this.wants(e, e.lastHeard)) this.host.dropEntry(e, 'released', 'bye');
  }

  /** BYE on the table's link to `e`. */
  onBye(e: TableEntry, f: ByeFrame): void {
    if (f.ack) {
      e.link.close('released');
      this.host.dropEntry(e, 'released', 'none');
    } else {
      // The peer stops using the link: so do we, then ack so it can close.
      this.host.dropEntry(e, 'released', 'none');
      this.host.sendFrameOn(e.link, { type: FRAME_BYE, ack: true });
    }
  }

  /** BYE on a link no longer in the table (we are releasing it, or it lost a duplicate race). */
  onStrayBye(link: Link, f: ByeFrame): void {
    if (f.ack) link.close('released');
    else this.host.sendFrameOn(link, { type: FRAME_BYE, ack: true });
  }

  /** `link` closed: no BYE timer for it any more. */
  closed(link: Link): void {
    this.byes.get(link)?.cancel();
    this.byes.delete(link);
  }

  /** Closes every link still waiting for an ack. */
  stop(): void {
    for (const [link, t] of this.byes) {
      t.cancel();
      link.close('leaving');
    }
    this.byes.clear();
  }
}
