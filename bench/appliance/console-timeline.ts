// Where a boot's time went, read from the VM's serial console: the first line of each stage
// (firmware/iPXE, kernel, initramfs, NFS root mounted, systemd, multi-user) with when it arrived,
// and the appliance's own reports (multi-user reached, workload runs, in seconds of guest uptime).
// Pure: lines in, marks out.
import { MULTI_USER_MARK } from './recipe.js';

export interface ConsoleLine {
  /** ms after power-on the line arrived. */
  t: number;
  text: string;
}

/** Stages in boot order, each the first console line matching its pattern. */
export const STAGES: ReadonlyArray<readonly [string, RegExp]> = [
  ['ipxe', /iPXE/],
  ['kernel', /Linux version \d/],
  ['initramfs', /Loading, please wait|Begin: Loading essential drivers/],
  ['ipconfig', /IP-Config: \S+ complete|address: \d+\.\d+\.\d+\.\d+ /],
  ['rootMounted', /Begin: Running \/scripts\/nfs-bottom|Begin: Running \/scripts\/init-bottom/],
  ['systemd', /Welcome to .*Debian|systemd \d+ running/],
  ['multiUser', new RegExp(MULTI_USER_MARK)],
  ['powerDown', /reboot: Power down|Power down/],
];

export interface WorkloadRun {
  checksum: string;
  seconds: number;
  /**
   * Where the run loaded its programs from, as announced by the line before it (`APPLIANCE
   * workload-from nfs|local|ram`): over NFS, from the local disk, or from the VM's page cache.
   */
  from?: string;
}

export interface ConsoleTimeline {
  /** Stage name -> ms after power-on of its first line (missing stages are absent). */
  stages: Record<string, number>;
  /** Guest uptime (s) at which the appliance reported multi-user.target. */
  multiUserUptime?: number;
  workloads: WorkloadRun[];
}

export function consoleTimeline(lines: readonly ConsoleLine[]): ConsoleTimeline {
  const stages: Record<string, number> = {};
  const workloads: WorkloadRun[] = [];
  let multiUserUptime: number | undefined;
  let from: string | undefined;
  for (const { t, text } of lines) {
    for (const [name, pattern] of STAGES) if (stages[name] === undefined && pattern.test(text)) stages[name] = t;
    const mu = new RegExp(`${MULTI_USER_MARK} ([\\d.]+)`).exec(text);
    if (mu && multiUserUptime === undefined) multiUserUptime = Number(mu[1]);
    const f = /APPLIANCE workload-from (\w+)/.exec(text);
    if (f) from = f[1];
    const w = /APPLIANCE workload ([0-9a-f]{32}) ([\d.]+) ([\d.]+)/.exec(text);
    if (w) {
      workloads.push({ checksum: w[1]!, seconds: Number(w[3]) - Number(w[2]), ...(from === undefined ? {} : { from }) });
      from = undefined;
    }
  }
  return { stages, ...(multiUserUptime === undefined ? {} : { multiUserUptime }), workloads };
}
