# The commands the README names. Everything installs into .venv/ from the lock file (uv.lock).
VENV ?= .venv
UV_VERSION ?= 0.13.9
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)
# pytest-xdist processes for `make test` (one a core; each has its own database, Redis db and ports)
PYTEST_WORKERS ?= auto

.PHONY: install install-runtime run test js-test lint format bench bench-peers bench-peers-http build validate-deploy faults fuzz mutation clean web web-test

# the console (web/) is built into the Python package when its sources change; without npm the API
# still runs and / explains how to build the console
WEB_DIST := src/experimently/console/dist/index.html
WEB_DEPS := web/node_modules/.installed
WEB_SOURCES := $(shell find web/src web/public web/scripts -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tailwind.config.js web/postcss.config.js web/tsconfig.json

install: $(VENV)/.installed $(WEB_DIST) ## everything: the product, the console and the development tools

web: $(WEB_DIST)

$(WEB_DEPS): web/package.json web/package-lock.json
	@if command -v npm >/dev/null; then \
		cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the console is not built (Node 20 and npm build it)"; fi

$(WEB_DIST): $(WEB_DEPS) $(WEB_SOURCES)
	@if [ -f $(WEB_DEPS) ]; then cd web && npm run --silent build; fi

$(VENV)/.installed: pyproject.toml uv.lock sdk/python/pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --quiet --compile-bytecode
	$(BIN)/python -m compileall -q src sdk/python/src
	touch $@ $(VENV)/.installed-runtime

install-runtime: $(VENV)/.installed-runtime ## the product's runtime dependencies only (what `run` needs)

$(VENV)/.installed-runtime: pyproject.toml uv.lock sdk/python/pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --no-dev --quiet --compile-bytecode
	$(BIN)/python -m compileall -q src sdk/python/src
	touch $@

# The server exits 0 when stopped (Ctrl-C or SIGTERM), so make has no error to report.
run: install-runtime $(WEB_DIST) ## start the product on the embedded default (SQLite, in-memory cache and queue)
	@exec $(BIN)/experimently serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

lint: install
	$(BIN)/ruff check src sdk tests bench
	$(BIN)/ruff format --check src sdk tests bench
	$(BIN)/mypy
	$(BIN)/mypy tests sdk/python/tests
	$(BIN)/lint-imports

test: lint js-test ## lint (ruff, mypy strict), the TypeScript SDK's tests, the whole test suite, then the console's tests
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --maxprocesses 8
	$(MAKE) web-test

web-test: install ## the console: ESLint + tsc, unit tests (Vitest), end-to-end in Chromium
	cd web && npm run --silent lint && npm run --silent test && npm run --silent e2e

build: install ## wheels and sdists of experimently and experimently-sdk into dist/, metadata checked
	rm -rf dist
	$(BIN)/uv build --all-packages --out-dir dist --quiet
	$(BIN)/twine check --strict dist/*

faults: install ## fault harness: private PostgreSQL + Redis, two serve + two worker, faults under load
	$(BIN)/python bench/faults.py $${FAULTS_ARGS:---check}

fuzz: install ## schemathesis over the whole OpenAPI, admin and API key (slow: not part of make test)
	$(BIN)/uv sync --frozen --inexact --quiet --group fuzz
	$(BIN)/python bench/fuzz.py $(FUZZ_ARGS)

bench: install ## every bench in a short mode (minutes; the full runs and figures are in bench/README.md)
	$(BIN)/python bench/eval_engine.py
	$(BIN)/python bench/eval_http.py --duration 2 --throughput-seconds 1 --batch-requests 5 --warmup 500
	$(BIN)/python bench/assign.py --units 300 --bulk-requests 3 --concurrency 2
	$(BIN)/python bench/ingest.py --requests 20 --concurrency 2 --shapes sqlite
	$(BIN)/python bench/results.py --users 20000 --calls 3  # needs PostgreSQL (EXPERIMENTLY_BENCH_DATABASE_URL)

bench-peers: install ## our engine against GrowthBook, Unleash, LaunchDarkly, Flagsmith (their SDKs go into .venv-peers)
	$(BIN)/python bench/peers/compare.py $(PEERS_ARGS)

bench-peers-http: install ## our HTTP evaluation against Unleash's server (npm ci in bench/peers/unleash; UNLEASH_DB=postgresql://... of its own)
	$(BIN)/python bench/peers/unleash_http.py --unleash-db "$(UNLEASH_DB)" $(PEERS_HTTP_ARGS)

mutation: install ## mutation testing of the pure cores (minutes; not part of make test): engine, then statistics
	cd sdk/python && $(abspath $(BIN))/mutmut run --max-children $${JOBS:-2}; $(abspath $(BIN))/mutmut results --all true
	$(BIN)/mutmut run --max-children $${JOBS:-2}; $(BIN)/mutmut results --all true

js-test: ## the TypeScript SDK (sdk/js): install from its lock file, type-check, build, node:test
	cd sdk/js && npm ci --no-audit --no-fund && npm test

format: install
	$(BIN)/ruff format src sdk tests bench
	$(BIN)/ruff check --fix src sdk tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache web/node_modules src/experimently/console/dist \
		mutants sdk/python/mutants .venv-peers .venv-columnar

# Deployment files, validated without a container runtime or a cluster: compose against the Compose
# Specification schema, each Kustomize overlay rendered and checked against the Kubernetes schemas,
# the alert rules checked and unit-tested with promtool, the shell scripts with shellcheck.
validate-deploy: install
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml
	for overlay in deploy/kubernetes/overlays/*/; do \
	  echo "kustomize $$overlay"; \
	  kubectl kustomize "$$overlay" > "$(VENV)/rendered.yaml" || exit 1; \
	  $(BIN)/kubernetes-validate --strict --quiet "$(VENV)/rendered.yaml" || exit 1; \
	done
	cd deploy/prometheus && promtool check rules alerts.yml && promtool test rules alerts.test.yml
	promtool check config --syntax-only deploy/prometheus/prometheus.yml
	$(BIN)/python -c "import json, pathlib; [json.loads(p.read_text()) for p in pathlib.Path('deploy/grafana/dashboards').glob('*.json')]"
	shellcheck .ci/run
