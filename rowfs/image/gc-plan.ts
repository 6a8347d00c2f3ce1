// Which versions of an app `gc` may withdraw (pure: no I/O). A version goes only if it is older
// than the latest, is not among the `keep` newest, has no sharers, was published more than
// `minAgeMs` ago, and sits in our own VersionsRecord (nobody can withdraw another's). Everything
// else is kept with the first reason that applies.
import { compareVersions } from './names.js';
import { keyPrefix } from './errors.js';
import { bytesEqual } from './fields.js';
import type { AppView } from './app-view.js';

export interface GcOptions {
  /** Versions to keep whatever their age, newest first (the latest counts as one). */
  keep: number;
  /** A version published less than this long ago stays (a mount may be resolving it right now). */
  minAgeMs: number;
}

export interface GcStep {
  version: string;
  action: 'withdraw' | 'keep';
  reason: string;
  sharers: number;
}

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} days`;
}

export function planGc(view: AppView, sharers: ReadonlyMap<string, number>, self: Uint8Array, nowMs: number, opts: GcOptions): GcStep[] {
  if (!Number.isInteger(opts.keep) || opts.keep < 0) throw new RangeError(`keep must be a non-negative integer, got ${opts.keep}`);
  if (!Number.isFinite(opts.minAgeMs) || opts.minAgeMs < 0) throw new RangeError(`minAgeMs must be >= 0, got ${opts.minAgeMs}`);
  const latest = view.latest;
  return view.versions.map((v, i): GcStep => {
    const n = sharers.get(v.version) ?? 0;
    const step = (action: GcStep['action'], reason: string): GcStep => ({ version: v.version, action, reason, sharers: n });
    const age = nowMs - v.publishedAtMs;
    if (latest === undefined || v.version === latest) return step('keep', 'the latest version');
    if (compareVersions(v.version, latest) > 0) return step('keep', `newer than the latest (${latest})`);
    if (i < opts.keep) return step('keep', `among the ${opts.keep} newest`);
    if (n > 0) return step('keep', `${n} sharer${n === 1 ? '' : 's'}`);
    if (age <= opts.minAgeMs) return step('keep', `published ${formatAge(age)} ago (minimum age ${formatAge(opts.minAgeMs)})`);
    if (!bytesEqual(v.publisher, self)) return step('keep', `published by ${keyPrefix(v.publisher)}: only that key can withdraw it`);
    return step('withdraw', `older than the latest (${latest}), no sharers, published ${formatAge(age)} ago`);
  });
}
