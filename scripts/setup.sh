#!/usr/bin/env bash
# Installs everything the project needs on a new machine; idempotent and cached.
# The Python environment lives outside the clone, keyed by the lock file, and is reused
# while the lock does not change. ./.venv is a symlink to it.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${SHOPNOW_PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'

# System packages. Always: redis-server (online store). With --servers (the test command):
# a JDK and Maven too, which assemble and run the local OpenSearch node, and Chromium with its
# driver, which the console's browser tests drive headless.
missing=()
need() { command -v "$1" >/dev/null || missing+=("$2"); }
need redis-server redis-server
if [ "${1:-}" = "--servers" ]; then
  need java openjdk-17-jre-headless
  need mvn maven
  need setpriv util-linux
  need chromium chromium
  need chromedriver chromium-driver
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

root=${SHOPNOW_CACHE:-$HOME/.cache/shopnow}
key=$(cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
venv="$root/venv-$key"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  echo "setup: creating $venv"
  rm -rf "$venv"
  mkdir -p "$root"
  "$PY" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip uv
  "$venv/bin/uv" pip install --python "$venv/bin/python" -q -r requirements.lock
  touch "$venv/.complete"
fi
"$venv/bin/uv" pip install --python "$venv/bin/python" -q --no-deps -e .
ln -sfn "$venv" .venv
echo "setup: ready ($venv)"
