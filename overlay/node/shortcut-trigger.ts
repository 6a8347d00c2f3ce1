// Automatic shortcuts: a destination that gets shortcutAfterMessages exact messages from us within one
// shortcutWindowMs gets a direct link (dialed as a 'shortcut', released after shortcutIdleMs unused).
import type { RingAddress } from '../ring/ring.js';
import type { NodeCounter } from './counters.js';
import type { OverlayOptions } from './options.js';

export interface ShortcutTriggerHost {
  readonly options: Pick<OverlayOptions, 'shortcutAfterMessages' | 'shortcutWindowMs'>;
  /** We already link to `dest`. */
  linked(dest: RingAddress): boolean;
  count(name: NodeCounter): void;
  requestShortcut(dest: RingAddress): void;
}

export class ShortcutTrigger {
  private readonly traffic = new Map<RingAddress, number>();
  private windowStart = 0;

  constructor(private readonly host: ShortcutTriggerHost) {}

  /** We sent an exact message to `dest`. */
  note(dest: RingAddress): void {
    const threshold = this.host.options.shortcutAfterMessages;
    if (threshold <= 0) return;
    const n = (this.traffic.get(dest) ?? 0) + 1;
    this.traffic.set(dest, n);
    if (n === threshold && !this.host.linked(dest)) {
      this.host.count('shortcuts_auto');
      this.host.requestShortcut(dest);
    }
  }

  /** By the tick: counts start again every shortcutWindowMs. */
  tick(now: number): void {
    if (now - this.windowStart >= this.host.options.shortcutWindowMs) {
      this.traffic.clear();
      this.windowStart = now;
    }
  }
}
