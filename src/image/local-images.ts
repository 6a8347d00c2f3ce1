// The image processes running on this machine (`overlay image serve|publish|mount`), as the node
// keeps them for `overlay status`: each announces itself with a TTL and withdraws when it stops.
// Several processes of one version share the node's single DHT record of that version (server or
// sharer records are one per node key), so a stopping process learns from its withdrawal whether
// another one still stands behind that record and must not remove it.

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

  /** Removes a process; `others` counts the live ones left with its role, app and version. */
  withdraw(id: string): { withdrawn: boolean; others: number } {
    const img = this.images.get(id);
    if (!img) return { withdrawn: false, others: 0 };
    this.images.delete(id);
    const now = this.now();
    let others = 0;
    for (const o of this.images.values()) if (o.expiresAt > now && o.role === img.role && o.app === img.app && o.version === img.version) others++;
    return { withdrawn: true, others };
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
