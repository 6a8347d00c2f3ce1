// A periodic job of the image processes (re-putting records before their TTLs run out, following
// the latest version): runs every `everyMs`, never overlapping itself; `stop` waits for a run
// under way, so nothing is written after it resolves.
import type { Clock, Timer } from '../../lib/clock.js';

export class RefreshLoop {
  private timer: Timer | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly everyMs: number,
    private readonly run: () => Promise<void>,
    private readonly onError: (e: Error) => void,
  ) {}

  start(): void {
    this.timer ??= this.clock.setInterval(() => {
      if (this.stopped || this.running) return;
      this.running = this.run()
        .catch((e: Error) => this.onError(e))
        .finally(() => (this.running = undefined));
    }, this.everyMs);
  }

  /** True the first time (the caller then releases what the loop kept alive), false after. */
  async stop(): Promise<boolean> {
    if (this.stopped) return false;
    this.stopped = true;
    this.timer?.cancel();
    await this.running;
    return true;
  }
}
