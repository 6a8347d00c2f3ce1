// The seam between the forwarder and whatever carries IP packets in and out of the host: the real
// TUN device (tun-device.ts) or an in-memory double (memory-device.ts) in tests.

export interface PacketDevice {
  /** Interface name (e.g. "ovl0"). */
  readonly name: string;
  /** MTU in bytes: the largest IP packet the device hands out or accepts. */
  readonly mtu: number;
  /** Installs the receiver; packets arrive in batches (one call per readable event). One receiver. */
  onPackets(receiver: (packets: Buffer[]) => void): void;
  /** Writes IP packets to the host; returns how many were accepted (a full queue drops the rest). After close: 0. */
  write(packets: Uint8Array[]): number;
  /** Stops reading, removes the device. Idempotent. */
  close(): void;
}
