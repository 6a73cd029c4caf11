# syntax=docker/dockerfile:1
# Multi-stage image: front-end assets from npm, Python env from pinned wheels, data pack built at
# image build time (mount your own data dir over /srv/zoning/data/processed to replace it).

# --- stage 1: front-end libraries (Leaflet, leaflet-draw, swagger-ui) from the npm lock file
FROM node:20.20-bookworm-slim AS web
WORKDIR /src/app/web
COPY app/web/package.json app/web/package-lock.json app/web/copy-vendor.mjs ./
RUN npm ci --no-audit --no-fund && npm run build

# --- stage 2: Python environment and data build
FROM python:3.11.7-slim-bookworm AS build
# compiled loops of the batch engine (numba) are made at install and kept here for the runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 NUMBA_CACHE_DIR=/srv/zoning/cache/numba
WORKDIR /srv/zoning
COPY scripts/install-app.sh scripts/
COPY pyproject.toml constraints.txt README.md ./
COPY layers layers
COPY zoning zoning
COPY app app
COPY --from=web /src/app/static/vendor app/static/vendor
RUN ./scripts/install-app.sh /opt/venv
COPY data/raw data/raw
RUN /opt/venv/bin/zoning build --out /srv/zoning/data/processed

# --- stage 3: runtime, non-root
FROM python:3.11.7-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ZONING_DATA_DIR=/srv/zoning/data/processed \
    ZONING_STATE_DIR=/srv/zoning/state \
    NUMBA_CACHE_DIR=/srv/zoning/cache/numba
RUN groupadd --system --gid 10001 zoning && useradd --system --uid 10001 --gid zoning --home-dir /srv/zoning zoning
WORKDIR /srv/zoning
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/zoning /srv/zoning
RUN mkdir -p /srv/zoning/state /srv/zoning/cache/numba \
    && chown -R zoning:zoning /srv/zoning/state /srv/zoning/cache
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
CMD ["zoning", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
