// The proxy's resource use once a second (the paper's Figure 4): CPU from /proc/PID/stat, disk
// from /proc/PID/io, network from the mount's counters file (bytes from the image server across
// the wide area, bytes to the VM), RSS from /proc/PID/status. Each sample is a rate over the
// second before it. A sample that cannot be read (the proxy restarting) is skipped.
import { readFileSync } from 'node:fs';
import type { CountersSnapshot } from '../../rowfs/counters.js';

export interface ProxySample {
  /** Seconds since the sampler started. */
  t: number;
  /** CPU use of the proxy process, % of one core. */
  cpuPct: number;
  diskReadKBps: number;
  diskWriteKBps: number;
  /** READ payload from the image server (over the overlay), KB/s. */
  wanKBps: number;
  /** READ payload to the VM, KB/s. */
  lanKBps: number;
  rssMb: number;
  /** The private (anonymous) part of rssMb: the heap, buffers and native allocations; the rest is mapped files (node's code, LMDB). */
  anonMb: number;
  /** Of anonMb, as the proxy reports it: V8's heap, and array buffers (the payload pool, once allocated, among them). */
  heapMb?: number;
  buffersMb?: number;
}

interface Raw {
  at: number;
  cpuTicks: number;
  readBytes: number;
  writeBytes: number;
  fromMain: number;
  toClient: number;
  rssMb: number;
  anonMb: number;
  peakMb: number;
  memory?: { heapTotal: number; arrayBuffers: number };
}

const TICKS_PER_S = 100;

function readRaw(pid: number, countersFile: string): Raw {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const io = readFileSync(`/proc/${pid}/io`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const num = (text: string, key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  let counters: CountersSnapshot | undefined;
  try {
    counters = JSON.parse(readFileSync(countersFile, 'utf8')) as CountersSnapshot;
  } catch {
    counters = undefined; // not written yet
  }
  return {
    at: Date.now(),
    // utime and stime are fields 14 and 15 of stat: 12 and 13 after the command name.
    cpuTicks: Number(fields[11]) + Number(fields[12]),
    readBytes: num(io, 'read_bytes'),
    writeBytes: num(io, 'write_bytes'),
    fromMain: counters?.bytes.fromMain ?? 0,
    toClient: counters?.bytes.toClient ?? 0,
    rssMb: num(status, 'VmRSS') / 1024,
    anonMb: num(status, 'RssAnon') / 1024,
    peakMb: num(status, 'VmHWM') / 1024,
    ...(memoryOf(counters) ? { memory: memoryOf(counters)! } : {}),
  };
}

/** The memory section the proxy writes into its counters file (absent in older proxies). */
function memoryOf(c: CountersSnapshot | undefined): Raw['memory'] {
  const m = (c as { memory?: Raw['memory'] } | undefined)?.memory;
  return m && Number.isFinite(m.heapTotal) && Number.isFinite(m.arrayBuffers) ? m : undefined;
}

export class ProxySampler {
  readonly samples: ProxySample[] = [];
  /** Highest VmHWM seen across every proxy process sampled. */
  peakRssMb = 0;
  /** Highest private (anonymous) part of the RSS sampled: the rest is mostly node's own code, shared by every node process. */
  peakAnonMb = 0;
  private readonly started = Date.now();
  private last: Raw | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** Samples `target()` (the current proxy's PID and counters file, or undefined between runs) every second. */
  start(target: () => { pid: number; countersFile: string } | undefined): void {
    this.timer = setInterval(() => {
      const tg = target();
      if (!tg) return void (this.last = undefined);
      let raw: Raw;
      try {
        raw = readRaw(tg.pid, tg.countersFile);
      } catch {
        return void (this.last = undefined);
      }
      this.peakRssMb = Math.max(this.peakRssMb, raw.peakMb);
      this.peakAnonMb = Math.max(this.peakAnonMb, raw.anonMb);
      const prev = this.last;
      this.last = raw;
      if (!prev || raw.cpuTicks < prev.cpuTicks) return; // first sample of a (new) process
      const dt = (raw.at - prev.at) / 1000;
      const rate = (a: number, b: number) => Math.max(0, a - b) / 1024 / dt;
      this.samples.push({
        t: Math.round((raw.at - this.started) / 100) / 10,
        cpuPct: Math.round(((raw.cpuTicks - prev.cpuTicks) / TICKS_PER_S / dt) * 1000) / 10,
        diskReadKBps: Math.round(rate(raw.readBytes, prev.readBytes)),
        diskWriteKBps: Math.round(rate(raw.writeBytes, prev.writeBytes)),
        wanKBps: Math.round(rate(raw.fromMain, prev.fromMain)),
        lanKBps: Math.round(rate(raw.toClient, prev.toClient)),
        rssMb: Math.round(raw.rssMb * 10) / 10,
        anonMb: Math.round(raw.anonMb * 10) / 10,
        ...(raw.memory ? { heapMb: Math.round(raw.memory.heapTotal / 104857.6) / 10, buffersMb: Math.round(raw.memory.arrayBuffers / 104857.6) / 10 } : {}),
      });
    }, 1000);
  }

  /** Seconds since the sampler started (to mark phases on the same axis). */
  now(): number {
    return Math.round((Date.now() - this.started) / 100) / 10;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
