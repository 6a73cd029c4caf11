#!/usr/bin/env bash
# Runs the Dockerfile's steps outside Docker (no engine on CI machines): lint the Dockerfile with
# hadolint, install the app into a clean virtualenv with the same script the image uses, build the
# data pack into a fresh folder as the image does, start the service as the image's CMD does
# (2 workers), and probe it with the image's HEALTHCHECK command. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
stop() {
  # SIGTERM to the server (exec'd, so $server is its pid: the gunicorn master) stops its workers too.
  if [ -n "${server:-}" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT

.venv/bin/hadolint Dockerfile
./scripts/install-app.sh "$work/venv"
mkdir -p "$work/srv/data" "$work/srv/state"
cp -r data/raw "$work/srv/data/raw"
(cd "$work/srv" && "$work/venv/bin/zoning" build --quiet \
   --manifest data/raw/qinghai/manifest.yaml --manifest data/raw/guizhou/manifest.yaml \
   --out "$work/srv/data/processed")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/srv" && ZONING_DATA_DIR="$work/srv/data/processed" ZONING_STATE_DIR="$work/srv/state" \
   exec "$work/venv/bin/zoning" serve --host 127.0.0.1 --port "$port" --workers 2 >"$work/server.log" 2>&1) &
server=$!
for _ in $(seq 1 240); do
  if "$work/venv/bin/python" -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=4).status == 200 else 1)" 2>/dev/null; then
    echo "docker steps: healthcheck passed on port $port"
    exit 0
  fi
  sleep 1
done
echo "docker steps: service did not become healthy" >&2
tail -20 "$work/server.log" >&2
exit 1
