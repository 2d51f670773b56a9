#!/usr/bin/env bash
# The main job: the end-to-end demo on the local emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/bingbridge demo
