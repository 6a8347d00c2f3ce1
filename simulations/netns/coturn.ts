// coturn (STUN + TURN, long-term credentials) in the topology's public namespace.
import type { Proc } from '../harness/proc.js';
import { PUBLIC_IP, type NetnsTopology } from './topology.js';

export interface TurnService {
  proc: Proc;
  stunUrl: string;
  turnUrl: string;
  /** node-datachannel iceServers entries. */
  iceServers: string[];
  /** coturn leaves it behind on exit: removed by the harness's destroy. */
  pidFile: string;
}

export const TURN_PORT = 3478;
export const TURN_USER = 'u';
export const TURN_PASSWORD = 'p';

export async function startCoturn(topo: NetnsTopology, timeoutMs = 10_000): Promise<TurnService> {
  const pidFile = `/tmp/overlay-turn-${process.pid}-${Date.now()}.pid`;
  const proc = topo.spawnPublic('turnserver', [
    '-n',
    `--listening-ip=${PUBLIC_IP}`,
    `--listening-port=${TURN_PORT}`,
    `--relay-ip=${PUBLIC_IP}`,
    '--min-port=49152',
    '--max-port=49300',
    '--lt-cred-mech',
    `--user=${TURN_USER}:${TURN_PASSWORD}`,
    '--realm=overlay.test',
    '--fingerprint',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--allow-loopback-peers',
    '--cli-password=unused',
    '--log-file=stdout',
    '--simple-log',
    `--pidfile=${pidFile}`,
  ]);
  await proc.waitFor(/Total (UDP|General) servers|IPv4\. UDP listener opened|listener opened on/i, timeoutMs);
  const stunUrl = `stun:${PUBLIC_IP}:${TURN_PORT}`;
  const turnUrl = `turn:${TURN_USER}:${TURN_PASSWORD}@${PUBLIC_IP}:${TURN_PORT}`;
  return { proc, stunUrl, turnUrl, iceServers: [stunUrl, turnUrl], pidFile };
}
