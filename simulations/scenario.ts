// Scenario files (JSON): what a simulation run does. Every field has a default, so a file only
// states what differs; unknown fields and bad values are refused with a ScenarioError.
import type { OverlayOptions } from '../overlay/node/options.js';
import { CodedError } from '../lib/coded-error.js';

export interface Scenario {
  name: string;
  seed: number;
  /** Nodes that join at the start. */
  nodes: number;
  /** Joins are spread evenly over this many virtual minutes (each via a random live node). */
  joinMin: number;
  /** Quiet time after the joins, before measuring. */
  settleMin: number;
  /** The measured phase. */
  durationMin: number;
  /** Fraction of the nodes replaced per minute during the measured phase (one leaves or crashes, one joins). */
  churnPerMin: number;
  /** Of the departures, the fraction that crash (silently) rather than leave gracefully. */
  crashFraction: number;
  /** Random routed messages (exact, between nodes up for at least a minute) over the measured phase. */
  routedMessages: number;
  /** DHT keys put at the start of the measured phase (over its first tenth). */
  dhtKeys: number;
  /** DHT gets of random put keys spread over the rest of the measured phase. */
  dhtGets: number;
  dhtTtlMin: number;
  /** Network model. */
  latencyMs?: number[][];
  jitterMs: number;
  loss: number;
  /** Overrides of the overlay's options. */
  overlay: Partial<OverlayOptions>;
}

export class ScenarioError extends CodedError<'invalid'> {}

export const defaultScenario: Scenario = {
  name: 'default',
  seed: 1,
  nodes: 1000,
  joinMin: 2,
  settleMin: 1,
  durationMin: 5,
  churnPerMin: 0.01,
  crashFraction: 0.5,
  routedMessages: 10_000,
  dhtKeys: 1000,
  dhtGets: 2000,
  dhtTtlMin: 120,
  jitterMs: 2,
  loss: 0,
  overlay: {},
};

const numeric: Array<[keyof Scenario, number, number]> = [
  ['seed', 0, 2 ** 32 - 1],
  ['nodes', 1, 200_000],
  ['joinMin', 0, 10_000],
  ['settleMin', 0, 10_000],
  ['durationMin', 0, 10_000],
  ['churnPerMin', 0, 1],
  ['crashFraction', 0, 1],
  ['routedMessages', 0, 10_000_000],
  ['dhtKeys', 0, 10_000_000],
  ['dhtGets', 0, 10_000_000],
  ['dhtTtlMin', 1, 10_000],
  ['jitterMs', 0, 10_000],
  ['loss', 0, 0.5],
];

/** Validates a parsed JSON object into a full scenario. */
export function parseScenario(raw: unknown, fallbackName = 'scenario'): Scenario {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ScenarioError('invalid', 'a scenario must be a JSON object');
  const o = raw as Record<string, unknown>;
  const known = new Set(Object.keys(defaultScenario).concat('latencyMs'));
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ScenarioError('invalid', `unknown scenario field "${k}"`);
  const s: Scenario = { ...defaultScenario, name: fallbackName, overlay: {} };
  for (const [k, min, max] of numeric) {
    if (o[k] === undefined) continue;
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) throw new ScenarioError('invalid', `"${k}" must be a number in ${min}..${max}`);
    (s as unknown as Record<string, number>)[k] = v;
  }
  for (const k of ['seed', 'nodes', 'routedMessages', 'dhtKeys', 'dhtGets'] as const) {
    if (!Number.isInteger(s[k])) throw new ScenarioError('invalid', `"${k}" must be an integer`);
  }
  if (o.name !== undefined) {
    if (typeof o.name !== 'string' || o.name.length === 0) throw new ScenarioError('invalid', '"name" must be a non-empty string');
    s.name = o.name;
  }
  if (o.latencyMs !== undefined) {
    const m = o.latencyMs;
    if (!Array.isArray(m) || m.length === 0 || !m.every((row) => Array.isArray(row) && row.length === m.length && row.every((x) => typeof x === 'number' && x >= 0 && x < 10_000))) {
      throw new ScenarioError('invalid', '"latencyMs" must be a square matrix of milliseconds');
    }
    s.latencyMs = m as number[][];
  }
  if (o.overlay !== undefined) {
    if (typeof o.overlay !== 'object' || o.overlay === null || Array.isArray(o.overlay)) throw new ScenarioError('invalid', '"overlay" must be an object of overlay options');
    s.overlay = o.overlay as Partial<OverlayOptions>;
  }
  return s;
}
