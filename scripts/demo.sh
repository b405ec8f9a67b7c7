#!/usr/bin/env bash
# The main job on the embedded default: synthesise a marketplace, train the ranker,
# index it and serve the API on localhost (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/shopnow demo "$@"
