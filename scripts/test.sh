#!/usr/bin/env bash
# The test command: installs what is needed, starts a real Redis server on loopback,
# runs lint, type checks and the whole test suite against it, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY=.venv/bin/python

work=$(mktemp -d /tmp/shopnow-test.XXXXXX)
cleanup() {
  if [ -f "$work/redis.pid" ]; then kill "$(cat "$work/redis.pid")" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$port" ping >/dev/null || { echo "redis-server did not start" >&2; cat "$work/redis.log"; exit 1; }
export SHOPNOW_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "test: redis-server on 127.0.0.1:$port"

echo "test: ruff"; $PY -m ruff check . && $PY -m ruff format --check .
echo "test: mypy"; $PY -m mypy engine search_plugins ltr ingest
echo "test: pytest"; $PY -m pytest -q "$@"
