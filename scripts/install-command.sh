#!/usr/bin/env bash
# Puts the `overlay` command on PATH (issue 14 item 2): a symlink DIR/overlay -> this checkout's
# bin/overlay.js (DIR defaults to /usr/local/bin). A link that already points into another checkout
# is left alone (the message says how to switch), so several checkouts on one machine do not fight.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/usr/local/bin}
target="$PWD/bin/overlay.js"
link="$dir/overlay"
if [ -L "$link" ] && [ -e "$link" ] && [ "$(readlink -f "$link")" != "$(readlink -f "$target")" ]; then
  echo "setup: $link runs $(readlink -f "$link"), another checkout; leaving it (ln -sf $target $link to use this one)"
  exit 0
fi
if [ -e "$link" ] && [ ! -L "$link" ]; then
  echo "setup: $link exists and is not a link; leaving it (the command here is $target)"
  exit 0
fi
if [ ! -w "$dir" ]; then
  echo "setup: cannot write $dir; run the commands as 'node $target ...', or: ln -s $target $link (as root)"
  exit 0
fi
chmod +x bin/overlay.js
ln -sfn "$target" "$link"
