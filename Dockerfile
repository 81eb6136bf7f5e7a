# syntax=docker/dockerfile:1
# Experimently: console (node) -> wheels (uv) -> a small runtime image running as a non-root user.
#   docker build -t experimently .
#   docker run -p 8000:8000 experimently            (embedded SQLite in the container's data volume)
# The production shape (PostgreSQL, Redis, two servers, a worker, Prometheus, Grafana) is deploy/compose.yaml.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# --- 1. the console: a static build of web/ into src/experimently/console/dist -----------------------
FROM ${NODE_IMAGE} AS console
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- 2. the wheels, and a virtual environment with the locked runtime dependencies ------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 UV_NO_CACHE=1
RUN pip install "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml uv.lock README.md LICENSE CHANGELOG.md ./
COPY sdk/python sdk/python
COPY src src
COPY --from=console /src/src/experimently/console/dist src/experimently/console/dist
RUN uv build --all-packages --wheel --out-dir /dist \
 && uv export --frozen --no-dev --no-hashes --no-emit-workspace --no-header -o /dist/requirements.txt \
 && python -m venv /opt/experimently \
 && uv pip install --python /opt/experimently/bin/python -r /dist/requirements.txt /dist/*.whl \
 && /opt/experimently/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/experimently/lib
# ^ the runtime user cannot write under /opt and PYTHONDONTWRITEBYTECODE is set, so without bytecode in
#   the image every start compiled every module from source again (about 2 s more per start; bench/README.md).
#   unchecked-hash: the image never changes, so the bytecode is not checked against the sources' mtimes.

# --- 3. runtime: the venv only, a non-root user, a health check --------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 experimently \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/experimently --create-home experimently
COPY --from=build /opt/experimently /opt/experimently
ENV PATH=/opt/experimently/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    EXPERIMENTLY_DATA_DIR=/var/lib/experimently/data
USER 10001:10001
WORKDIR /var/lib/experimently
VOLUME ["/var/lib/experimently/data"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=2)"]
ENTRYPOINT ["experimently"]
CMD ["serve"]
