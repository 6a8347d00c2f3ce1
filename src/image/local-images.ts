// The image processes running on this machine (`overlay image serve|publish|mount`), as the node
// keeps them for `overlay status`: each announces itself with a TTL (before it writes its DHT
// record) and withdraws last when it stops. Several processes of one version share the node's
// single DHT record of that version (server and sharer records are one per node key), so a
// stopping process finds the others listed (`othersOf`) and leaves the record to them.

/** An image process as it last announced itself. */
export interface LocalImage {
  id: string;
  role: 'serve' | 'mount';
  app: string;
  version: string;
  detail: Record<string, unknown>;
  /** Seconds since it last announced itself. */
  ageS: number;
}

export type ImageAnnouncement = Omit<LocalImage, 'ageS'>;

export class LocalImages {
  private readonly images = new Map<string, ImageAnnouncement & { at: number; expiresAt: number }>();

  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Lists (or refreshes) a process until `ttlS` passes; throws when `max` live processes are listed. */
  announce(img: ImageAnnouncement, ttlS: number): void {
    const now = this.now();
    if (!this.images.has(img.id) && this.images.size >= this.max) {
      this.expire(now);
      if (this.images.size >= this.max) throw new Error(`too many image processes on this node (${this.max})`);
    }
    this.images.set(img.id, { ...img, at: now, expiresAt: now + ttlS * 1000 });
  }

  /** Removes a process from the list. */
  withdraw(id: string): boolean {
    return this.images.delete(id);
  }

  /** The live processes, with the seconds since each last announced itself. */
  list(): LocalImage[] {
    const now = this.now();
    this.expire(now);
    return [...this.images.values()].map(({ at, expiresAt: _e, ...img }) => ({ ...img, ageS: Math.round((now - at) / 1000) }));
  }

  private expire(now: number): void {
    for (const [id, img] of this.images) if (img.expiresAt <= now) this.images.delete(id);
  }
}

/** The longest record TTL a process may announce: the DHT's maximum (7 days). */
export const MAX_ANNOUNCED_TTL_MS = 7 * 24 * 3600_000;

/**
 * The TTL another process writes its record of the version with (`detail.recordTtlMs`, whole ms,
 * 1 s to 7 days), or undefined when it announced none or a bad one. A process that stops and
 * leaves the node's record to that one writes it with this TTL: the other refreshes it every third
 * of it, so the record lives until then, however the two processes' --ttl differ.
 */
export function recordTtlOf(detail: Record<string, unknown>): number | undefined {
  const ms = detail['recordTtlMs'];
  return Number.isSafeInteger(ms) && (ms as number) >= 1000 && (ms as number) <= MAX_ANNOUNCED_TTL_MS ? (ms as number) : undefined;
}

/** A TCP or UDP port number as a process announced it (1-65535). */
export function isAnnouncedPort(p: unknown): p is number {
  return Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;
}

/** The processes in `listed` other than `self` with its role, app and version. */
export function othersOf<T extends ImageAnnouncement>(listed: readonly T[], self: Omit<ImageAnnouncement, 'detail'>): T[] {
  return listed.filter((o) => o.id !== self.id && o.role === self.role && o.app === self.app && o.version === self.version);
}
