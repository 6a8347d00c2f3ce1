// qemu launcher for diskless test VMs: a PXE-booting machine (SeaBIOS + the iPXE ROM of
// ipxe-qemu) on a TAP device inside a namespace the test created, or a kernel booted directly on
// qemu's user-mode network (kernelVmArgs), TCG only (KVM does not work on
// these machines), serial console on stdio, and wall-clock milestones read from that console.
import type { Netns } from './netns.js';
import { startProc, type Proc } from './proc.js';

export interface PxeVmOptions {
  /** TAP device (already created and bridged in `ns`). */
  tap: string;
  mac: string;
  memoryMb?: number;
  /**
   * Only the devices a diskless serial-console machine uses: no VGA, CD-ROM or floppy (-nodefaults,
   * the serial line added back) and no SVM in the CPU model (nested virtualisation), so the guest's
   * udev loads no drivers for them (kvm, drm, ata, sr, floppy).
   */
  lean?: boolean;
  /** Raw disk images attached read-only as virtio disks (vda, vdb, ... in the guest); none by default. */
  disks?: readonly string[];
}

/** qemu-system-x86_64 arguments for a PXE boot; the VM exits instead of rebooting (poweroff, panic). */
export function pxeVmArgs(o: PxeVmOptions): string[] {
  return [
    '-accel', 'tcg', '-m', String(o.memoryMb ?? 384), '-nographic', '-no-reboot',
    ...(o.lean ? ['-nodefaults', '-serial', 'stdio', '-cpu', 'qemu64,-svm'] : []),
    // sgabios mirrors the firmware's and iPXE's VGA text to the serial line.
    '-device', 'sga', '-boot', 'n',
    '-netdev', `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=n0,mac=${o.mac}`,
    ...(o.disks ?? []).flatMap((file) => ['-drive', `file=${file},format=raw,if=virtio,readonly=on`]),
  ];
}

/** Starts the VM inside `ns`; its output is the serial console. */
export function startPxeVm(ns: Netns, o: PxeVmOptions): Proc {
  const [cmd, args] = ns.wrap('qemu-system-x86_64', pxeVmArgs(o));
  return startProc(cmd, args);
}

export interface KernelVmOptions {
  kernel: string;
  initrd: string;
  /** Kernel command line (the console goes to the serial line, i.e. the process output). */
  append: string;
  memoryMb?: number;
}

/**
 * qemu-system-x86_64 arguments to boot a kernel and initramfs directly, with qemu's user-mode
 * network: the guest is 10.0.2.15 and reaches the host's loopback at 10.0.2.2 (so servers the
 * test runs on 127.0.0.1 serve it, and no namespace or TAP is needed). Exits on poweroff or panic.
 */
export function kernelVmArgs(o: KernelVmOptions): string[] {
  return [
    '-accel', 'tcg', '-m', String(o.memoryMb ?? 384), '-nographic', '-no-reboot',
    '-kernel', o.kernel, '-initrd', o.initrd, '-append', `console=ttyS0 panic=-1 ${o.append}`,
    '-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0',
  ];
}

/** Serial output with terminal escape sequences and carriage returns removed. */
export function serialText(raw: string): string {
  return raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Z0-9]/g, '').replace(/\r/g, '');
}

/**
 * Records when each pattern first shows up in a process's output (only output written after
 * `watch` was called), in ms since `startMs`; undefined if it never did before the process ended
 * or `timeoutMs` passed. Polls every 50 ms.
 */
export class Milestones {
  private readonly at = new Map<string, number>();
  private readonly pending: Promise<void>[] = [];

  constructor(private readonly startMs: number) {}

  watch(proc: Proc, marks: Record<string, RegExp>, timeoutMs: number): void {
    const from = proc.output().length;
    const deadline = Date.now() + timeoutMs;
    const open = new Map(Object.entries(marks));
    let ended = false;
    void proc.exited.then(() => (ended = true));
    this.pending.push(
      (async () => {
        while (open.size > 0) {
          const text = proc.output().slice(from);
          for (const [name, pattern] of open) {
            if (pattern.test(text)) {
              this.at.set(name, Date.now() - this.startMs);
              open.delete(name);
            }
          }
          if (ended || Date.now() > deadline) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
    );
  }

  get(name: string): number | undefined {
    return this.at.get(name);
  }

  /** Waits until every watched pattern was seen or given up on. */
  async settled(): Promise<Record<string, number | undefined>> {
    await Promise.all(this.pending);
    return Object.fromEntries(this.at.entries());
  }
}
