// Client side of the harness relay: named messaging and a Dht backed by the relay's shared store.
import WebSocket from 'ws';
import { DhtConflictError, type Dht, type DhtRecord } from '../../overlay/api.js';
import { b64, unb64, type ClientMessage, type RelayMessage } from './relay-protocol.js';
import { CodedError } from '../../lib/coded-error.js';

/** A DHT call the relay reported as failed; `code` is the name of the error the relay caught. */
export class RelayDhtError extends CodedError<string> {}

export class RelayClient {
  private nextId = 1;
  private readonly pending = new Map<number, (m: RelayMessage) => void>();
  private handler: ((from: string, data: unknown) => void) | undefined;
  private readonly early: Array<[string, unknown]> = [];
  readonly dht: Dht;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as RelayMessage;
      if (m.t === 'from') {
        if (this.handler) this.handler(m.from, m.data);
        else this.early.push([m.from, m.data]);
      } else {
        this.pending.get(m.id)?.(m);
        this.pending.delete(m.id);
      }
    });
    const call = (op: 'put' | 'create' | 'get' | 'remove', key: Uint8Array, value?: Uint8Array, ttlMs?: number) =>
      new Promise<DhtRecord[]>((resolve, reject) => {
        const id = this.nextId++;
        this.pending.set(id, (m) => {
          if (m.t !== 'dht') return;
          if (!m.ok) return reject(m.errorName === 'DhtConflictError' ? new DhtConflictError(m.error ?? 'conflict') : new RelayDhtError(m.errorName ?? 'Error', m.error ?? 'dht error'));
          resolve((m.records ?? []).map((r) => ({ key, value: unb64(r.value), owner: unb64(r.owner), ttlMs: r.ttlMs })));
        });
        this.raw({ t: 'dht', id, op, key: b64(key), value: value ? b64(value) : undefined, ttlMs });
      });
    this.dht = {
      put: async (k, v, ttl) => void (await call('put', k, v, ttl)),
      create: async (k, v, ttl) => void (await call('create', k, v, ttl)),
      get: (k) => call('get', k),
      remove: async (k) => void (await call('remove', k)),
    };
  }

  static connect(url: string, name: string, ownerKey: Uint8Array, timeoutMs = 10_000): Promise<RelayClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`relay ${url} not reachable within ${timeoutMs} ms`));
      }, timeoutMs);
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('open', () => {
        clearTimeout(timer);
        const c = new RelayClient(ws);
        c.raw({ t: 'hello', name, ownerKey: b64(ownerKey) });
        resolve(c);
      });
    });
  }

  send(to: string, data: unknown): void {
    this.raw({ t: 'to', to, data });
  }

  onMessage(handler: (from: string, data: unknown) => void): void {
    this.handler = handler;
    for (const [f, d] of this.early.splice(0)) handler(f, d);
  }

  /** Resolves once `name` has said hello to the relay. */
  waitFor(name: string): Promise<void> {
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, () => resolve());
      this.raw({ t: 'wait', name, id });
    });
  }

  close(): void {
    this.ws.close();
  }

  private raw(m: ClientMessage): void {
    this.ws.send(JSON.stringify(m));
  }
}
