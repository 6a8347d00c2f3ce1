// Symphony far links: about log2 N links to peers at distances drawn from the harmonic distribution
// between 1/N of the ring and all of it, either way round, so greedy routing needs O(log N) hops on
// average. N is estimated from how densely our near neighbours sit around us. Each round (the tick's
// far chore) FINDs the owners of a few fresh positions and dials them, or releases one far link when
// we hold more than target + 1.
import type { Random } from '../../lib/clock.js';
import type { RingAddress } from '../ring/ring.js';
import type { ConnectionTable } from '../routing-table/connection-table.js';
import { cwDist, RING_BITS, ringAdd } from '../ring/ring.js';
import type { NodeCounter } from './counters.js';
import type { DialPurpose } from './dialer.js';
import type { FindResult } from './finder.js';
import type { OverlayOptions } from './options.js';

/** Network size estimated from the span of our near set: `nodes` of them cover `span` of the ring. */
export function estimateSize(table: Pick<ConnectionTable, 'successors' | 'predecessors' | 'size'>): number {
  const succ = table.successors();
  const pred = table.predecessors();
  if (succ.length === 0 || pred.length === 0) return 1 + table.size;
  const span = cwDist(pred[pred.length - 1]!, succ[succ.length - 1]!);
  if (span === 0n) return 1 + table.size;
  const nodes = succ.length + pred.length;
  const fraction = Number((span << 32n) >> BigInt(RING_BITS)) / 2 ** 32;
  return Math.max(nodes + 1, nodes / Math.max(fraction, 2 ** -32));
}

/** Symphony: a distance drawn from the harmonic distribution between N^-1 and 1 of the ring, either way from `self`. */
export function symphonyPosition(self: RingAddress, n: number, random: Random): RingAddress {
  const exponent = RING_BITS + (random.float() - 1) * Math.log2(Math.max(n, 2));
  const whole = Math.floor(exponent);
  const mantissa = BigInt(Math.floor(2 ** (exponent - whole) * 2 ** 32));
  const dist = whole >= 32 ? mantissa << BigInt(whole - 32) : mantissa >> BigInt(32 - whole);
  return ringAdd(self, random.float() < 0.5 ? dist : -dist);
}

export interface FarLinksHost {
  readonly self: RingAddress;
  readonly random: Random;
  readonly options: Pick<OverlayOptions, 'farLinks' | 'maxFarLinks' | 'farFindsPerRound'>;
  readonly table: ConnectionTable;
  readonly stopped: boolean;
  readonly joined: boolean;
  count(name: NodeCounter): void;
  find(position: RingAddress): Promise<FindResult | undefined>;
  connect(remote: RingAddress, purpose: DialPurpose): void;
  /** Far-link dials under way. */
  farDialsPending(): number;
}

export class FarLinks {
  private findsInFlight = 0;

  constructor(private readonly host: FarLinksHost) {}

  /** How many far links we aim for. */
  target(): number {
    const o = this.host.options;
    if (o.farLinks !== 'auto') return o.farLinks;
    return Math.min(o.maxFarLinks, Math.max(1, Math.round(Math.log2(estimateSize(this.host.table)))));
  }

  /** One round: FIND and dial up to farFindsPerRound new far peers, or release one surplus far link. */
  maintain(): void {
    const host = this.host;
    if (host.stopped || !host.joined) return;
    let far = this.findsInFlight;
    for (const e of host.table.all()) if (e.far) far++;
    far += host.farDialsPending();
    const target = this.target();
    if (far > target + 1) {
      for (const e of host.table.all()) {
        if (e.far) {
          e.far = false;
          host.count('far_released');
          break;
        }
      }
      return;
    }
    const n = estimateSize(host.table);
    for (let i = 0; i < Math.min(target - far, host.options.farFindsPerRound); i++) {
      this.findsInFlight++;
      void host.find(symphonyPosition(host.self, n, host.random)).then((r) => {
        this.findsInFlight--;
        if (!r || host.stopped || r.from === host.self) return;
        if (host.table.get(r.from)?.far) return;
        host.connect(r.from, 'far');
      });
    }
  }
}
