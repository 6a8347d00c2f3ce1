// An in-memory PacketDevice for tests: `inject` plays the host sending packets into the device,
// `written` collects what the forwarder delivered to the host.
import type { PacketDevice } from './packet-device.js';

export class MemoryDevice implements PacketDevice {
  readonly written: Uint8Array[] = [];
  private receiver: ((packets: Buffer[]) => void) | undefined;
  closed = false;

  constructor(
    readonly name: string,
    readonly mtu: number,
  ) {}

  onPackets(receiver: (packets: Buffer[]) => void): void {
    this.receiver = receiver;
  }

  /** The host sends these packets (one batch). */
  inject(packets: Uint8Array[]): void {
    if (!this.closed) this.receiver?.(packets.map((p) => Buffer.from(p)));
  }

  write(packets: Uint8Array[]): number {
    if (this.closed) return 0;
    this.written.push(...packets);
    return packets.length;
  }

  close(): void {
    this.closed = true;
  }
}
