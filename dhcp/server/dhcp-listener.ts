// The DHCP server's socket edge: one UDP socket on 0.0.0.0:67 tied to ONE interface with
// SO_BINDTODEVICE (see bind-to-device.ts), so it neither hears nor answers any other interface.
// Datagrams are decoded here; malformed ones are counted and dropped, never thrown upward.
import { createSocket, type Socket } from 'node:dgram';
import { bindToDevice } from './bind-to-device.js';
import { decodeDhcp, DhcpDecodeError, encodeDhcp } from './dhcp-packet.js';
import { DHCP_SERVER_PORT, type DhcpServer } from './dhcp-server.js';

export interface DhcpListenerCounters {
  datagrams: number;
  malformed: number;
  /** Arrived before the socket was tied to its interface, so of unknown origin: dropped. */
  droppedBeforeBind: number;
  sendErrors: number;
  repliesSent: number;
}

export interface DhcpListenerOptions {
  interfaceName: string;
  server: DhcpServer;
  port?: number;
  log?: (line: string) => void;
}

export class DhcpListener {
  readonly counters: DhcpListenerCounters = { datagrams: 0, malformed: 0, droppedBeforeBind: 0, sendErrors: 0, repliesSent: 0 };
  private socket?: Socket;
  private bound = false;

  constructor(private readonly opts: DhcpListenerOptions) {}

  async start(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = socket;
    socket.on('message', (msg) => {
      this.onMessage(msg).catch((err: Error) => {
        // Last line of defence: a request must never take the server down.
        this.counters.malformed++;
        this.opts.log?.(`dhcp: dropped a request: ${err.message}`);
      });
    });
    socket.on('error', (err) => this.opts.log?.(`dhcp socket error: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(this.opts.port ?? DHCP_SERVER_PORT, '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    try {
      bindToDevice(socket, this.opts.interfaceName);
    } catch (err) {
      socket.close();
      throw err;
    }
    this.bound = true;
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async onMessage(msg: Buffer): Promise<void> {
    this.counters.datagrams++;
    if (!this.bound) {
      this.counters.droppedBeforeBind++;
      return;
    }
    let request;
    try {
      request = decodeDhcp(msg);
    } catch (err) {
      if (!(err instanceof DhcpDecodeError)) throw err;
      this.counters.malformed++;
      return;
    }
    let reply;
    try {
      reply = await this.opts.server.handle(request);
    } catch (err) {
      // A pool failure (e.g. the lease file's disk) must not take the server down.
      this.opts.log?.(`dhcp: handling a request failed: ${(err as Error).message}`);
      return;
    }
    if (!reply || !this.socket) return;
    const bytes = encodeDhcp(reply.packet);
    this.counters.repliesSent++;
    this.socket.send(bytes, reply.port, reply.address, (err) => {
      if (err) {
        this.counters.sendErrors++;
        this.opts.log?.(`dhcp: send to ${reply.address}:${reply.port} failed: ${err.message}`);
      }
    });
  }
}
