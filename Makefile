.PHONY: setup demo test lint bench-quick

setup:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	.venv/bin/python -m ruff check . && .venv/bin/python -m ruff format --check . && .venv/bin/python -m mypy engine search_plugins ltr ingest bench towers graph synth devtools && .venv/bin/lint-imports

bench-quick:
	.venv/bin/shopnow-bench all --quick
