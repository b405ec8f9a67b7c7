#!/bin/sh
# One-shot preparation for the compose stack (the `init` service): synthesise a marketplace,
# index it and train the ranker into the shared var volume, so that `shopnow serve` in the `api`
# service finds data, index and model. Re-running it is cheap: once a build has finished it
# exits at once. `--force` throws the previous build away and starts again:
#   docker compose run --rm init --force
set -eu

data=${SHOPNOW_DATA_DIR:?SHOPNOW_DATA_DIR must be set}
index=${SHOPNOW_INDEX_DIR:?SHOPNOW_INDEX_DIR must be set}
models=${SHOPNOW_MODEL_DIR:?SHOPNOW_MODEL_DIR must be set}
items=${INIT_ITEMS:-50000}
events=${INIT_EVENTS:-500000}
requests=${INIT_REQUESTS:-8000}
seed=${INIT_SEED:-0}
done_marker="$models/.init-complete"

case "${1:-}" in
  "") ;;
  --force)
    echo "init: --force: removing $data, $index and $models"
    rm -rf "$data" "$index" "$models"
    ;;
  *)
    echo "usage: shopnow-init [--force]" >&2
    exit 2
    ;;
esac

if [ -f "$done_marker" ]; then
  echo "init: already built on $(cat "$done_marker"); nothing to do (--force rebuilds)"
  exit 0
fi

# meta.json is the last file `shopnow synth` writes: its presence means a complete data set.
if [ -f "$data/meta.json" ]; then
  echo "init: [1/3] using the data already in $data"
else
  echo "init: [1/3] synthesising $items items and $events events into $data"
  shopnow synth --out "$data" --items "$items" --events "$events" --seed "$seed" --quiet
fi

echo "init: [2/3] indexing the catalog and building popularity, CTR and co-visitation"
shopnow index --quiet

echo "init: [3/3] training the LambdaMART ranker on $requests logged requests"
shopnow train --quiet --requests "$requests" --seed "$seed"

# The API image has no torch: it reads MiniLM as the graph exported here, with its tokenizer.
graph=${SHOPNOW_TEXT_ENCODER_GRAPH:-}
if [ -n "$graph" ] && [ ! -f "$graph" ]; then
  echo "init: exporting the text encoder to $graph"
  python -m towers.text_export "$graph" >/dev/null
fi

mkdir -p "$models"
date -u +%Y-%m-%dT%H:%M:%SZ >"$done_marker"
echo "init: done"
