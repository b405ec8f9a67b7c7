#!/usr/bin/env bash
# Installs everything the project needs on a new machine; idempotent and cached.
# The dependencies live in one environment outside the clone, keyed by the lock file and
# shared by every clone while the lock does not change. ./.venv is a small environment of this
# clone on top of it: the project is installed (editable) there only, so each clone runs its own
# code.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${SHOPNOW_PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'

# System packages. Always: redis-server (online store). With --servers (the test command):
# a JDK and Maven too, which assemble and run the local OpenSearch node, Chromium with its
# driver, which the console's browser tests drive headless, PostgreSQL, and Go (to build the load
# generator).
missing=()
need() { command -v "$1" >/dev/null || missing+=("$2"); }
need redis-server redis-server
if [ "${1:-}" = "--servers" ]; then
  need java openjdk-17-jre-headless
  need mvn maven
  need setpriv util-linux
  need chromium chromium
  need chromedriver chromium-driver
  # the load benchmark's generator, vegeta, is built from Go sources (devtools/vegeta.py)
  command -v go >/dev/null || [ -x /usr/local/go/bin/go ] || missing+=(golang-go)
  # the shared control store's tests run a PostgreSQL server (devtools/postgres_server.py)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
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
deps="$root/venv-$key"
mkdir -p "$root"
# One setup at a time builds or changes the shared environment (clones, CI, the demo).
exec 9>"$root/.setup.lock"
if command -v flock >/dev/null; then flock 9; fi
if [ ! -x "$deps/bin/python" ] || [ ! -f "$deps/.complete" ]; then
  echo "setup: creating $deps"
  rm -rf "$deps"
  "$PY" -m venv "$deps"
  "$deps/bin/python" -m pip install -q --upgrade pip uv
  "$deps/bin/uv" pip install --python "$deps/bin/python" -q -r requirements.lock
  touch "$deps/.complete"
fi

# This clone's environment: its own directory, the shared site-packages added by a .pth file.
here=$(pwd -P)
venv="$here/.venv"
deps_home=$(sed -n 's/^home = //p' "$deps/pyvenv.cfg")
if [ -L .venv ] || [ ! -x .venv/bin/python ] \
  || [ "$(sed -n 's/^home = //p' .venv/pyvenv.cfg 2>/dev/null)" != "$deps_home" ]; then
  rm -rf .venv  # a symlink to the shared environment (older setups), or a stale one
  "$deps/bin/python" -m venv --without-pip "$venv"
fi
site() { "$1" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'; }
deps_site=$(site "$deps/bin/python")
echo "import site; site.addsitedir('$deps_site')" >"$(site .venv/bin/python)/_shopnow_deps.pth"
# The shared tools, run by this clone's Python: binaries linked, scripts with its shebang.
for tool in "$deps"/bin/*; do
  name=${tool##*/}
  case $name in python* | activate* | Activate.ps1 | pip* | shopnow) continue ;; esac
  if [ "$(head -c2 "$tool")" != "#!" ]; then
    ln -sfn "$tool" ".venv/bin/$name"
  elif [[ "$(head -n1 "$tool")" == '#!'*/bin/python* ]]; then
    { echo "#!$venv/bin/python"; tail -n +2 "$tool"; } >".venv/bin/$name.tmp"
    chmod 755 ".venv/bin/$name.tmp"
    mv -f ".venv/bin/$name.tmp" ".venv/bin/$name"
  fi
done
"$deps/bin/uv" pip install --python .venv/bin/python -q --no-deps -e .
# The shared environment holds dependencies only: an install of the project there (older
# setups) made every clone import whichever clone ran setup last.
if compgen -G "$deps_site/shopnow_discovery-*.dist-info" >/dev/null; then
  "$deps/bin/uv" pip uninstall --python "$deps/bin/python" -q shopnow-discovery
fi
echo "setup: ready (.venv on $deps)"
