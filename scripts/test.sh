#!/usr/bin/env bash
# The test command: installs what is needed, starts a real Redis server, a Redis primary and
# replica under three sentinels, a PostgreSQL server and a real OpenSearch cluster (three
# nodes) on loopback, runs lint, type checks and the whole test suite against
# them, stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --servers
PY=.venv/bin/python

work=$(mktemp -d /tmp/shopnow-test.XXXXXX)
chmod 755 "$work"  # the OpenSearch node runs as its own user under $work/opensearch
cleanup() {
  if [ -f "$work/redis.pid" ]; then kill "$(cat "$work/redis.pid")" 2>/dev/null || true; fi
  $PY -m devtools.redis_sentinel down --home "$work/redis-sentinel" >/dev/null 2>&1 || true
  $PY -m devtools.postgres_server down --home "$work/postgres" >/dev/null 2>&1 || true
  if [ -d "$work/opensearch" ]; then
    $PY -m devtools.opensearch_node down --home "$work/opensearch" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# OpenSearch takes 10-60 s to start: provision and start it while lint and mypy run. A
# cluster of three nodes, so that the index has a replica on another node, and a node can be
# killed under load (tests/bench/test_failover_bench.py).
$PY -m devtools.opensearch_node up --home "$work/opensearch" --port 0 --nodes 3 \
  >"$work/opensearch.json" 2>"$work/opensearch.err" &
os_job=$!

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$port" ping >/dev/null || { echo "redis-server did not start" >&2; cat "$work/redis.log"; exit 1; }
export SHOPNOW_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "test: redis-server on 127.0.0.1:$port"
# and a primary with a replica under three sentinels, for the store on Sentinel and failover
$PY -m devtools.redis_sentinel up --home "$work/redis-sentinel" >"$work/sentinel.json"
SHOPNOW_TEST_REDIS_SENTINEL_URL=$($PY -c 'import json,sys; print(json.load(sys.stdin)["url"])' <"$work/sentinel.json")
export SHOPNOW_TEST_REDIS_SENTINEL_URL SHOPNOW_TEST_REDIS_SENTINEL_HOME="$work/redis-sentinel"
echo "test: Redis Sentinel group at $SHOPNOW_TEST_REDIS_SENTINEL_URL"
# a PostgreSQL server for the shared control store (rules, keys, audit) of several replicas
$PY -m devtools.postgres_server up --home "$work/postgres" >"$work/postgres.json"
SHOPNOW_TEST_POSTGRES_URL=$($PY -c 'import json,sys; print(json.load(sys.stdin)["url"])' <"$work/postgres.json")
export SHOPNOW_TEST_POSTGRES_URL
echo "test: PostgreSQL at $SHOPNOW_TEST_POSTGRES_URL"

echo "test: ruff"; $PY -m ruff check . && $PY -m ruff format --check .
echo "test: mypy"; $PY -m mypy engine search_plugins ltr ingest bench towers graph synth devtools
echo "test: import contracts (layers, no cycles; pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports

status=0
wait "$os_job" || status=$?
if [ "$status" != 0 ]; then
  echo "test: OpenSearch did not start (exit $status):" >&2
  cat "$work/opensearch.err" "$work/opensearch.json" >&2
  exit 1
fi
export SHOPNOW_TEST_OPENSEARCH_HOME="$work/opensearch"
SHOPNOW_TEST_OPENSEARCH_URL=$($PY -c 'import json,sys; print(json.load(sys.stdin)["url"])' <"$work/opensearch.json")
SHOPNOW_TEST_OPENSEARCH_URLS=$($PY -c 'import json,sys; print(json.load(sys.stdin)["urls"])' <"$work/opensearch.json")
export SHOPNOW_TEST_OPENSEARCH_URL SHOPNOW_TEST_OPENSEARCH_URLS
echo "test: OpenSearch cluster on $SHOPNOW_TEST_OPENSEARCH_URLS"

echo "test: pytest"; $PY -m pytest -q "$@"
