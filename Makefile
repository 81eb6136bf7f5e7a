# The commands the README names. Everything installs into .venv/ from the lock file (uv.lock).
VENV ?= .venv
UV_VERSION ?= 0.13.9
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test lint format bench mutation clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml uv.lock sdk/python/pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --quiet
	touch $@

run: install ## start the product on the embedded default (SQLite, in-memory cache and queue)
	$(BIN)/experimently serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

lint: install
	$(BIN)/ruff check src sdk tests bench
	$(BIN)/ruff format --check src sdk tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests sdk/python/tests
	$(BIN)/lint-imports

test: lint ## lint (ruff, mypy strict) and the whole test suite
	$(BIN)/pytest -q

bench: install ## every bench in a short mode (minutes; the full runs and figures are in bench/README.md)
	$(BIN)/python bench/eval_engine.py
	$(BIN)/python bench/eval_http.py --duration 2 --throughput-seconds 1 --batch-requests 5 --warmup 500
	$(BIN)/python bench/assign.py --units 300 --bulk-requests 3 --concurrency 2
	$(BIN)/python bench/ingest.py --requests 20 --concurrency 2 --shapes sqlite
	$(BIN)/python bench/results.py --users 20000 --calls 3  # needs PostgreSQL (EXPERIMENTLY_BENCH_DATABASE_URL)

mutation: install ## mutation testing of the pure cores (minutes; not part of make test): engine, then statistics
	cd sdk/python && $(abspath $(BIN))/mutmut run --max-children $${JOBS:-2}; $(abspath $(BIN))/mutmut results --all true
	$(BIN)/mutmut run --max-children $${JOBS:-2}; $(BIN)/mutmut results --all true

format: install
	$(BIN)/ruff format src sdk tests bench
	$(BIN)/ruff check --fix src sdk tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache mutants sdk/python/mutants
