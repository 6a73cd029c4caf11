#!/usr/bin/env bash
# Creates a virtualenv at $1 and installs the service from pinned wheels. The Dockerfile runs this
# same script, and CI runs it in a clean folder (tests/app/test_deploy.py) so the image's install
# steps are exercised even where no Docker engine exists.
set -euo pipefail
venv="${1:?usage: install-app.sh VENV_DIR}"
here="$(cd "$(dirname "$0")/.." && pwd)"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade "pip==26.3"
"$venv/bin/pip" install -q --only-binary=:all: -c "$here/constraints.txt" "$here"
# Compile the batch engine's loops now (≈ 10 s), into the install or NUMBA_CACHE_DIR, so the first
# batch job does not wait for them.
"$venv/bin/python" -m zoning.run_grid
