// The harness relay, run in the public namespace: forwards signalling (and any JSON) between named
// harness processes and serves a shared in-memory DHT (dhcp/vip/memory-dht.ts semantics) to them.
// With STUN_PORT it also runs the overlay's built-in STUN server there (what a bootstrap member
// runs), for plain node-datachannel peers that have no bootstrap endpoint to learn one from.
// Usage: node relay.js HOST PORT [STUN_PORT]   (prints "relay listening HOST:PORT", "stun listening PORT")
import { WebSocketServer, type WebSocket } from 'ws';
import { systemClock } from '../../lib/clock.js';
import { MemoryDhtStore } from '../../dhcp/vip/memory-dht.js';
import type { Dht } from '../../overlay/api.js';
import { b64, unb64, type ClientMessage, type RelayMessage } from './relay-protocol.js';
import { StunServer } from '../../overlay/stun/stun-server.js';

const [host = '127.0.0.1', portArg = '0', stunPortArg] = process.argv.slice(2);
if (stunPortArg !== undefined) {
  void StunServer.listen({ host, port: Number(stunPortArg), clock: systemClock }).then(
    (s) => process.stdout.write(`stun listening ${s.port}\n`),
    (err: Error) => process.stdout.write(`stun failed: ${err.message}\n`),
  );
}
const store = new MemoryDhtStore(systemClock);
const clients = new Map<string, WebSocket>();
const waiters = new Map<string, Array<() => void>>();
const wss = new WebSocketServer({ host, port: Number(portArg), maxPayload: 1 << 20 });

const send = (ws: WebSocket, m: RelayMessage) => ws.send(JSON.stringify(m));

wss.on('connection', (ws) => {
  let name: string | undefined;
  let dht: Dht | undefined;
  ws.on('message', (raw) => {
    let m: ClientMessage;
    try {
      m = JSON.parse(String(raw)) as ClientMessage;
    } catch {
      return; // malformed: ignored (harness-only protocol)
    }
    if (m.t === 'hello') {
      name = m.name;
      dht = store.dhtFor(unb64(m.ownerKey));
      clients.set(name, ws);
      for (const w of waiters.get(name) ?? []) w();
      waiters.delete(name);
    } else if (m.t === 'to') {
      const peer = clients.get(m.to);
      if (peer && name) send(peer, { t: 'from', from: name, data: m.data });
    } else if (m.t === 'wait') {
      const done = () => send(ws, { t: 'present', id: m.id });
      if (clients.has(m.name)) done();
      else waiters.set(m.name, [...(waiters.get(m.name) ?? []), done]);
    } else if (m.t === 'dht' && dht) {
      const key = unb64(m.key);
      const reply = (p: Promise<unknown>) =>
        p.then(
          (records) =>
            send(ws, {
              t: 'dht',
              id: m.id,
              ok: true,
              records: Array.isArray(records) ? records.map((r) => ({ value: b64(r.value), owner: b64(r.owner), ttlMs: r.ttlMs })) : undefined,
            }),
          (err: Error) => send(ws, { t: 'dht', id: m.id, ok: false, errorName: err.name, error: err.message }),
        );
      if (m.op === 'get') reply(dht.get(key));
      else if (m.op === 'remove') reply(dht.remove(key));
      else if (m.op === 'put') reply(dht.put(key, unb64(m.value ?? ''), m.ttlMs ?? 0));
      else reply(dht.create(key, unb64(m.value ?? ''), m.ttlMs ?? 0));
    }
  });
  ws.on('close', () => {
    if (name && clients.get(name) === ws) clients.delete(name);
  });
});
wss.on('listening', () => {
  const a = wss.address();
  process.stdout.write(`relay listening ${typeof a === 'string' || !a ? String(a) : `${a.address}:${a.port}`}\n`);
});
process.on('SIGTERM', () => {
  wss.close();
  process.exit(0);
});
