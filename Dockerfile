# syntax=docker/dockerfile:1
# Relo Review: `python -m app serve` (web) or `python -m app worker`, non-root, with the
# PostgreSQL and Redis drivers (the `scale` extra). Build: `docker build -t relo-review .`
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The builder installs the app and its dependencies into a venv; only the venv moves on, so
# pip's caches, the source tree and any compiler a wheel-less dependency needs stay behind.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv --without-pip /opt/venv
COPY pyproject.toml README.md ./
COPY app ./app
# DL3013 wants `pkg==version`: this installs the project itself, whose pyproject.toml bounds
# every dependency's version.
# hadolint ignore=DL3013
RUN pip --python /opt/venv/bin/python install --no-cache-dir ".[scale]"

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 relo \
    && useradd --no-log-init --uid 10001 --gid relo --home-dir /srv/relo --create-home relo
COPY --from=build /opt/venv /opt/venv
# HOST: the service listens on every interface of the container (127.0.0.1 is the default
# outside containers); the ledger's default SQLite file and `.env` live in the workdir.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /srv/relo
USER 10001:10001
EXPOSE 8000
# curl is not in the slim image: the standard library asks /healthz (the web process only;
# compose and Kubernetes give workers a probe of their own).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
CMD ["python", "-m", "app", "serve"]
