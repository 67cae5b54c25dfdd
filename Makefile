.PHONY: run test lint format local-judge

run:  ## set up and start web + worker on the embedded default (SQLite, file broker)
	scripts/run.sh

test:  ## run the whole test suite
	scripts/test.sh

local-judge:  ## install, register and serve a small CPU judge model (Gemma 3 270M) on 127.0.0.1:8091
	scripts/local_judge.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
