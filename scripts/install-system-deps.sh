#!/usr/bin/env bash
# Debian packages the full test suite needs: GDAL's command-line tools (OAPIF client tests),
# PostgreSQL + PostGIS (benchmarks and cross-checks), Chromium (web-map test), CJK fonts (reports),
# poppler (report PDF checks). Skipped when everything is present; needs root (or sudo) otherwise.
set -euo pipefail
need=()
command -v ogr2ogr >/dev/null || need+=(gdal-bin)
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -d /usr/share/postgresql/15/extension ] \
  && ls /usr/share/postgresql/15/extension/postgis.control >/dev/null 2>&1 || need+=(postgresql-15-postgis-3 postgis)
command -v chromium >/dev/null || need+=(chromium chromium-driver)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian packages: ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
