// Finds and loads a native addon that node-gyp built into build/Release (binding.gyp at the project
// root). Found by walking up from this file, so it works from the sources and from dist/.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_PARENT_DIRS = 6;
const loaded = new Map<string, unknown>();

/** The addon `build/Release/NAME.node`, or undefined when it was not built. A present but unloadable file throws. */
export function loadNativeAddon<T>(name: string): T | undefined {
  if (loaded.has(name)) return loaded.get(name) as T;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_PARENT_DIRS; i++) {
    const candidate = join(dir, 'build', 'Release', `${name}.node`);
    if (existsSync(candidate)) {
      const addon = createRequire(import.meta.url)(candidate) as T;
      loaded.set(name, addon);
      return addon;
    }
    dir = dirname(dir);
  }
  return undefined;
}
