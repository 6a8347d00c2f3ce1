// A Linux TUN device (IFF_TUN | IFF_NO_PI) through the native addon: configured by ioctls, read
// non-blockingly on the event loop in batches, written in batches.
import { writeFileSync } from 'node:fs';
import { loadNativeTun, type NativeTunHandle, type NativeTun } from './addon.js';
import { TunError } from './tun-error.js';
import type { PacketDevice } from './packet-device.js';

export interface TunOptions {
  /** Interface name, at most 15 bytes. */
  name: string;
  /** MTU in bytes (68..65535). */
  mtu: number;
  /** IPv4 address of this end, e.g. "10.128.0.5". */
  address: string;
  /** Prefix length of the on-link subnet, e.g. 16. */
  prefixLength: number;
  /** Most packets handed to the receiver per call; bounds the time spent in one event. Default 64. */
  maxBatchPackets?: number;
  /** Device node; default /dev/net/tun (a test may point it elsewhere). */
  devicePath?: string;
}

export const DEFAULT_MAX_BATCH_PACKETS = 64;
export const DEFAULT_TUN_DEVICE_PATH = '/dev/net/tun';

export class TunDevice implements PacketDevice {
  readonly name: string;
  readonly mtu: number;
  private closed = false;
  private reading = false;
  /** Read errors other than EAGAIN (counted; reading goes on). */
  readErrors = 0;

  private constructor(
    private readonly native: NativeTun,
    private readonly handle: NativeTunHandle,
    mtu: number,
    private readonly maxBatch: number,
  ) {
    this.name = handle.name;
    this.mtu = mtu;
  }

  /** Creates, configures and brings up the device. Throws TunError (EPERM without root, ENOENT without /dev/net/tun). */
  static open(options: TunOptions): TunDevice {
    const native = loadNativeTun();
    const maxBatch = options.maxBatchPackets ?? DEFAULT_MAX_BATCH_PACKETS;
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(options.name)) throw new TunError('EINVAL', `bad interface name ${JSON.stringify(options.name)}`);
    let handle: NativeTunHandle;
    try {
      handle = native.open(options.devicePath ?? DEFAULT_TUN_DEVICE_PATH, options.name);
    } catch (err) {
      throw TunError.fromNative(err, `opening TUN ${options.name}`);
    }
    try {
      native.configure(handle, options.mtu, options.address, options.prefixLength, true);
    } catch (err) {
      native.close(handle);
      throw TunError.fromNative(err, `configuring TUN ${options.name}`);
    }
    // IPv4-only network: keep the kernel from sending IPv6 router solicitations etc. into the TUN.
    try {
      writeFileSync(`/proc/sys/net/ipv6/conf/${handle.name}/disable_ipv6`, '1');
    } catch {
      /* no IPv6 in this kernel: nothing to disable */
    }
    return new TunDevice(native, handle, options.mtu, maxBatch);
  }

  onPackets(receiver: (packets: Buffer[]) => void): void {
    if (this.closed) throw new TunError('EBADF', `TUN ${this.name} is closed`);
    if (this.reading) throw new TunError('EBUSY', `TUN ${this.name} already has a receiver`);
    this.reading = true;
    try {
      this.native.startReading(this.handle, this.maxBatch, (packets, err) => {
        if (err) this.readErrors++;
        if (packets.length > 0 && !this.closed) receiver(packets);
      });
    } catch (err) {
      throw TunError.fromNative(err, `reading TUN ${this.name}`);
    }
  }

  write(packets: Uint8Array[]): number {
    if (this.closed || packets.length === 0) return 0;
    return this.native.write(this.handle, packets);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.handle);
  }
}
