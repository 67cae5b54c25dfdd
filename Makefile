.PHONY: run test lint format

run:  ## set up and start web + worker on the embedded default (SQLite, file broker)
	scripts/run.sh

test:  ## run the whole test suite
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
