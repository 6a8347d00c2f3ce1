// msgpack on the control path (not on the data path): a shared packer and small shape checks that
// turn anything unexpected into a WireError.
import { Packr } from 'msgpackr';
import { WireError } from './wire-error.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function pack(value: unknown): Uint8Array {
  return packr.pack(value);
}

export function unpackObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = packr.unpack(bytes);
  } catch (err) {
    throw new WireError('bad-field', `${what}: not msgpack (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) throw new WireError('bad-field', `${what}: not a map`);
  return v as Record<string, unknown>;
}

export function field<T>(o: Record<string, unknown>, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[name];
  if (!check(v)) throw new WireError('bad-field', `${what}.${name}: bad value`);
  return v;
}

export const isUint32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
export const isSafeUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
export const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
export const isString = (v: unknown): v is string => typeof v === 'string';
export const bytesOfLength = (n: number) => (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === n;
export const bytesUpTo = (n: number) => (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length <= n;
export function arrayOf<T>(check: (v: unknown) => v is T, max: number) {
  return (v: unknown): v is T[] => Array.isArray(v) && v.length <= max && v.every(check);
}
