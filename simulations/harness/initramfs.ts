// A busybox initramfs for a Debian kernel, built by a test: /bin/busybox (busybox-static), the
// kernel modules a diskless boot needs (in load order, from `modprobe --show-depends`), an /init
// script and any extra files. Recipe: ../../../shared/reference/environment.md (qemu section).
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { run } from './proc.js';

export const BUSYBOX = '/bin/busybox';

export interface Kernel {
  version: string;
  /** Path of the compressed kernel image (/boot/vmlinuz-VERSION). */
  image: string;
}

/** The newest installed Debian kernel that has its modules (package linux-image-amd64). */
export function installedKernel(): Kernel {
  const versions = readdirSync('/boot')
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => {
      try {
        return readdirSync(join('/lib/modules', v)).length > 0;
      } catch {
        return false;
      }
    })
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const version = versions[versions.length - 1];
  if (!version) throw new Error('no /boot/vmlinuz-* with modules in /lib/modules (install linux-image-amd64)');
  return { version, image: join('/boot', `vmlinuz-${version}`) };
}

/**
 * The .ko files that load `modules` (with their dependencies), in load order, without repeats.
 * `modprobe --show-depends` takes one module per call (further words are module parameters).
 */
export async function moduleChain(kernelVersion: string, modules: string[]): Promise<string[]> {
  const chain: string[] = [];
  for (const m of modules) {
    const { stdout } = await run('modprobe', ['-S', kernelVersion, '--show-depends', m]);
    for (const line of stdout.split('\n')) {
      const match = /^insmod (\S+\.ko(?:\.[a-z]+)?)/.exec(line.trim());
      if (!match) continue;
      if (!chain.includes(match[1]!)) chain.push(match[1]!);
    }
  }
  if (chain.length === 0) throw new Error(`modprobe found no modules for ${modules.join(' ')} in kernel ${kernelVersion}`);
  return chain;
}

export interface InitramfsSpec {
  /** Output file (gzip-compressed newc cpio). */
  out: string;
  /** Body of /init; run by busybox sh with every applet installed in /bin. */
  init: string;
  /** .ko files, copied to /lib/modules/ under their base names (uncompressed modules only). */
  modules: string[];
  /** Extra files: path inside the initramfs -> content; executable when under /bin or a shared object (an ELF interpreter must be). */
  files?: Record<string, string | Uint8Array>;
}

/** Builds the archive; returns the module base names in load order (as /init finds them). */
export async function buildInitramfs(spec: InitramfsSpec): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'initramfs-'));
  try {
    for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'newroot', 'lib/modules']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    symlinkSync('busybox', join(root, 'bin/sh'));
    // The kernel opens /dev/console for init's stdio before init runs.
    await run('mknod', ['-m', '600', join(root, 'dev/console'), 'c', '5', '1']);
    const names: string[] = [];
    for (const ko of spec.modules) {
      if (!ko.endsWith('.ko')) throw new Error(`compressed module not supported: ${ko}`);
      copyFileSync(ko, join(root, 'lib/modules', basename(ko)));
      names.push(basename(ko));
    }
    writeFileSync(join(root, 'init'), `#!/bin/busybox sh\n/bin/busybox --install -s /bin\nexport PATH=/bin\n${spec.init}\n`);
    chmodSync(join(root, 'init'), 0o755);
    for (const [path, content] of Object.entries(spec.files ?? {})) {
      const full = join(root, path);
      mkdirSync(dirname(full), { recursive: true });
      writeFileSync(full, content);
      if (path.startsWith('/bin/') || path.endsWith('.so')) chmodSync(full, 0o755);
    }
    await run('sh', ['-c', `cd '${root}' && find . | cpio -o -H newc --quiet | gzip -1 > '${spec.out}'`], 60_000);
    return names;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
