// The TFTP server's transfer slots: bounded in total and per client address, taken at once when a
// request arrives (before the file is opened, so concurrent requests cannot pass the bound), and
// reclaimed from clients that show no progress. A request finding the table (or its client's share)
// full evicts, in this order: the oldest transfer whose client never acknowledged anything within
// `firstAckGraceMs` (a flood of read requests from made-up addresses never does), else the transfer
// idle longest if idle at least `evictAfterIdleMs`; otherwise it is refused. tftpd-hpa forks a process per request with no
// bound at all; a bound without reclaiming lets unanswered requests lock every client out.
// Pure bookkeeping: time is passed in, the occupant does the stopping.

export interface TransferSlotLimits {
  /** Transfers at once over all clients. */
  maxTotal: number;
  /** Transfers at once from one client address. */
  maxPerClient: number;
  /** A transfer whose client made no progress for this long may be evicted for a newcomer. */
  evictAfterIdleMs: number;
  /** A transfer whose client has not acknowledged anything for this long since it started is the first to go. */
  firstAckGraceMs: number;
}

/** What holds a slot once its file is open: a running transfer. */
export interface SlotOccupant {
  /** Time of the client's last progress (an ACK that moved the transfer on), or of the transfer's start. */
  lastProgressAt(): number;
  /** Whether the client ever acknowledged anything (the OACK or a block). */
  everProgressed(): boolean;
  /** Ends the transfer; it must release its slot (release is idempotent, so it may be late). */
  evict(reason: string): void;
}

export interface TransferSlot {
  readonly client: string;
  readonly takenAt: number;
  /** Unset while the file is being opened (not evictable then: that is quick and bounded). */
  occupant?: SlotOccupant;
}

export class TransferSlots {
  private readonly slots = new Set<TransferSlot>();
  private readonly perClient = new Map<string, number>();
  /** Slots taken from others for newcomers. */
  evicted = 0;

  constructor(private readonly limits: TransferSlotLimits) {}

  get size(): number {
    return this.slots.size;
  }

  /** Every slot (for shutdown and the idle sweep). */
  all(): TransferSlot[] {
    return [...this.slots];
  }

  /** A slot for `client` (an address), evicting a stalled transfer if needed; undefined when refused. */
  take(client: string, now: number): TransferSlot | undefined {
    if ((this.perClient.get(client) ?? 0) >= this.limits.maxPerClient) {
      if (!this.evictOne([...this.slots].filter((s) => s.client === client), now)) return undefined;
    }
    if (this.slots.size >= this.limits.maxTotal && !this.evictOne([...this.slots], now)) return undefined;
    const slot: TransferSlot = { client, takenAt: now };
    this.slots.add(slot);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    return slot;
  }

  /** Gives the slot back; a second call does nothing. */
  release(slot: TransferSlot): void {
    if (!this.slots.delete(slot)) return;
    const n = (this.perClient.get(slot.client) ?? 1) - 1;
    if (n > 0) this.perClient.set(slot.client, n);
    else this.perClient.delete(slot.client);
  }

  /** Running transfers idle for `idleMs` or more (for the sweep that ends them). */
  idleFor(idleMs: number, now: number): TransferSlot[] {
    return [...this.slots].filter((s) => s.occupant !== undefined && now - s.occupant.lastProgressAt() >= idleMs);
  }

  private evictOne(candidates: TransferSlot[], now: number): boolean {
    let victim: TransferSlot | undefined;
    for (const s of candidates) {
      const silentSinceStart = s.occupant !== undefined && !s.occupant.everProgressed() && now - s.takenAt >= this.limits.firstAckGraceMs;
      if (silentSinceStart && (!victim || s.takenAt < victim.takenAt)) victim = s;
    }
    if (!victim) {
      let longest = this.limits.evictAfterIdleMs;
      for (const s of candidates) {
        const idle = s.occupant ? now - s.occupant.lastProgressAt() : -1;
        if (idle >= longest) {
          victim = s;
          longest = idle;
        }
      }
    }
    if (!victim) return false;
    this.evicted++;
    this.release(victim);
    victim.occupant!.evict('slot reclaimed for another request: no progress from this client');
    return true;
  }
}
