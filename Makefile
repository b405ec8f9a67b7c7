.PHONY: setup demo test test-unit lint bench-quick

setup:
	bash scripts/setup.sh

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

# no servers, no shared data, no browser, nothing slow: about a minute (tests/conftest.py)
test-unit:
	bash scripts/setup.sh && .venv/bin/python -m pytest -q -m unit

lint:
	.venv/bin/python -m ruff check . && .venv/bin/python -m ruff format --check . && .venv/bin/python -m mypy engine search_plugins ltr ingest bench towers graph synth devtools && .venv/bin/lint-imports

bench-quick:
	.venv/bin/shopnow-bench all --quick
