#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/setup.sh), builds, runs ava.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx ava "$@"
