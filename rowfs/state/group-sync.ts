// One fdatasync of a file at a time, shared by every caller that asked before it started.
import { open as openFile, type FileHandle } from 'node:fs/promises';

/**
 * fdatasync of one file, shared by concurrent callers: a caller is satisfied by a sync that started
 * after it asked, so at most one sync runs and at most one more is queued.
 */
export class GroupSync {
  private fh: Promise<FileHandle> | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** Syncs completed. */
  count = 0;

  constructor(private readonly path: string) {}

  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.run().finally(() => (this.running = undefined));
      return this.running;
    }
    if (!this.queued) {
      this.queued = this.running.then(() => {
        this.queued = undefined;
        return this.sync();
      });
    }
    return this.queued;
  }

  private async run(): Promise<void> {
    this.fh ??= openFile(this.path, 'r+');
    await (await this.fh).datasync();
    this.count++;
  }

  async close(): Promise<void> {
    if (this.fh) await (await this.fh).close().catch(() => undefined);
    this.fh = undefined;
  }
}
