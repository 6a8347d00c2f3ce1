// Every overlay counter by name, as typed lists (the DHT's and the relay's beside their code): a
// misspelt counter does not compile, and status and bench output print these names. A node reports
// only the counters it has moved (status() stays short).
import { DHT_COUNTERS } from '../dht/dht-counters.js';
import { RELAY_COUNTERS } from '../relay/relay-counters.js';
import { WireError } from '../wire/wire-error.js';

export const NODE_COUNTERS = [
  'links_opened',
  'links_replaced_duplicate', // two links to one peer: the new one won
  'links_refused_duplicate', // ... the old one won
  'links_replaced_stale', // a new link from a peer whose old one we held past duplicateGlareMs
  'links_closed_timeout',
  'links_closed_released',
  'links_closed_duplicate',
  'links_closed_other',
  'link_timeouts', // silent for linkTimeoutMs, or a probe unanswered (tick)
  'link_failures_detected', // a probe unanswered, found while sending
  'control_frames_out',
  'app_frames_out', // routed frames of user apps (tags from FIRST_USER_APP)
  'frames_send_failed',
  'frames_malformed',
  'frames_unknown_local',
  'routed_delivered',
  'routed_forwarded',
  'routed_unknown_app',
  'routed_no_handler',
  'route_drop_no-route', // nextHop's drop reasons
  'route_drop_dead-end',
  'route_drop_hop_limit',
  'find_timeouts',
  'find_malformed',
  'join_attempts',
  'near_jumps', // a neighbour list showed we sit far from home: FIND again instead of walking
  'dials_near',
  'dials_far',
  'dials_shortcut',
  'dial_failures',
  'far_released',
  'shortcuts_auto',
  'relay_dials_started',
  'relay_dial_failures',
  'relay_heals',
  'relay_replaced_by_direct',
  'relay_direct_retries',
  'relay_direct_retry_failures',
  'dht_malformed',
  'dht_requests_deferred', // the settle gate held a DHT request back
] as const;
export type NodeCounter = (typeof NODE_COUNTERS)[number];

export const OVERLAY_COUNTERS = [...NODE_COUNTERS, ...DHT_COUNTERS, ...RELAY_COUNTERS] as const;
export type OverlayCounter = (typeof OVERLAY_COUNTERS)[number];

export class Counters {
  private readonly values: Partial<Record<OverlayCounter, number>> = Object.create(null);

  count(name: OverlayCounter, by = 1): void {
    this.values[name] = (this.values[name] ?? 0) + by;
  }

  get(name: string): number {
    return this.values[name as OverlayCounter] ?? 0;
  }

  /** The counters moved so far, in the order they first moved. */
  snapshot(): Record<string, number> {
    return { ...this.values };
  }

  /** Decodes peer input; a malformed one (WireError) is counted under `counter` and yields undefined. */
  decodeOrCount<T>(decode: (bytes: Uint8Array) => T, bytes: Uint8Array, counter: OverlayCounter): T | undefined {
    try {
      return decode(bytes);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.count(counter);
      return undefined;
    }
  }
}
