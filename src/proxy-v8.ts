// V8 settings (heap and compiler) for a process that hosts a ROW-FS proxy (`overlay rowfs`,
// `overlay image mount`, `overlay boot --image`). The proxy allocates small objects at a high rate
// (a promise chain per call); left alone, V8 doubles its young generation up to 2 x 16 MiB under
// that load and lets the old generation grow well past its live size. Both heap settings are read
// by V8 at each growth step, so they work at run time (unlike --max-semi-space-size): the
// semi-spaces stay at their initial 1 MiB and the old generation grows by half its live size
// between collections. Measured in docs/rowfs.md (peak RSS of the rowfs bench 139 -> 88 MB;
// cold-read CPU per byte not higher) and docs/appliance.md (the image mount of the appliance boot).
// --always-sparkplug: a function compiled after this (nearly all the proxy's code: it is compiled
// lazily, at its first call) starts as baseline machine code instead of bytecode interpreted until
// it is hot. A fresh proxy's first thousands of calls then cost less: its CPU per created file in
// the first 2,000 after a warm-up fell by a quarter to a third, and later rounds were no dearer
// (docs/rowfs.md, "A fresh proxy's warm-up: baseline code at once").
import { setFlagsFromString } from 'node:v8';

export const PROXY_V8_FLAGS = '--semi-space-growth-factor=1 --heap-growing-percent=50 --always-sparkplug';

/** Applies the proxy's V8 settings; OVERLAY_ROWFS_V8 replaces them (for experiments; '' = V8's defaults). */
export function tuneProxyV8(): void {
  setFlagsFromString(process.env.OVERLAY_ROWFS_V8 ?? PROXY_V8_FLAGS);
}
