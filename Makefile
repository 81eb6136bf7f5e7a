# The commands the README names. Everything installs into .venv/ from the lock file (uv.lock).
VENV ?= .venv
UV_VERSION ?= 0.13.9
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install install-runtime run test lint format bench build validate-deploy faults fuzz clean

install: $(VENV)/.installed ## everything: the product and the development tools (tests, lint)

$(VENV)/.installed: pyproject.toml uv.lock sdk/python/pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --quiet
	touch $@ $(VENV)/.installed-runtime

install-runtime: $(VENV)/.installed-runtime ## the product's runtime dependencies only (what `run` needs)

$(VENV)/.installed-runtime: pyproject.toml uv.lock sdk/python/pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --inexact --no-dev --quiet
	touch $@

# The server exits 0 when stopped (Ctrl-C or SIGTERM), so make has no error to report.
run: install-runtime ## start the product on the embedded default (SQLite, in-memory cache and queue)
	@exec $(BIN)/experimently serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

lint: install
	$(BIN)/ruff check src sdk tests bench
	$(BIN)/ruff format --check src sdk tests bench
	$(BIN)/mypy

test: lint ## lint (ruff, mypy strict) and the whole test suite
	$(BIN)/pytest -q

build: install ## wheels and sdists of experimently and experimently-sdk into dist/, metadata checked
	rm -rf dist
	$(BIN)/uv build --all-packages --out-dir dist --quiet
	$(BIN)/twine check --strict dist/*

faults: install ## fault harness: private PostgreSQL + Redis, two serve + two worker, faults under load
	$(BIN)/python bench/faults.py $${FAULTS_ARGS:---check}

fuzz: install ## schemathesis over the whole OpenAPI, admin and API key (slow: not part of make test)
	$(BIN)/uv sync --frozen --inexact --quiet --group fuzz
	$(BIN)/python bench/fuzz.py $(FUZZ_ARGS)

format: install
	$(BIN)/ruff format src sdk tests bench
	$(BIN)/ruff check --fix src sdk tests bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

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
