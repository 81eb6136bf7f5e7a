# The commands the README names. Everything installs into .venv/ from the lock file (uv.lock).
VENV ?= .venv
UV_VERSION ?= 0.13.9
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run test js-test lint format bench clean

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

test: lint js-test ## lint (ruff, mypy strict), the JavaScript SDK's tests and the whole test suite
	$(BIN)/pytest -q

js-test: ## the TypeScript SDK (sdk/js): install from its lock file, type-check, build, node:test
	cd sdk/js && npm ci --no-audit --no-fund && npm test

format: install
	$(BIN)/ruff format src sdk tests bench
	$(BIN)/ruff check --fix src sdk tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
