// JSON messages between harness processes and the relay (signalling, DHT double, routed payloads).
// Byte fields travel as base64. Test-harness only: not the overlay's wire format.

export type ClientMessage =
  | { t: 'hello'; name: string; ownerKey: string }
  | { t: 'to'; to: string; data: unknown }
  | { t: 'wait'; name: string; id: number }
  | { t: 'dht'; id: number; op: 'put' | 'create' | 'get' | 'remove'; key: string; value?: string; ttlMs?: number };

export type RelayMessage =
  | { t: 'from'; from: string; data: unknown }
  | { t: 'present'; id: number }
  | { t: 'dht'; id: number; ok: boolean; errorName?: string; error?: string; records?: Array<{ value: string; owner: string; ttlMs: number }> };

export const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
export const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
