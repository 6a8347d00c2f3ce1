// Builds the native addons (binding.gyp: tun, bootnet, rowfssplice, rowfsmemory) at `npm install`/`npm ci`. Uses the headers installed beside
// the running node (e.g. /usr/include/node) when present, so no header download is needed offline.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const prefix = resolve(dirname(process.execPath), '..');
const args = ['rebuild'];
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
const nodeGyp = process.env.npm_config_node_gyp;
const r = nodeGyp
  ? spawnSync(process.execPath, [nodeGyp, ...args], { stdio: 'inherit' })
  : spawnSync('node-gyp', args, { stdio: 'inherit', shell: false });
if (r.error) console.error(`build-addons: cannot run node-gyp: ${r.error.message} (run it through npm: npm run install)`);
process.exit(r.status ?? 1);
