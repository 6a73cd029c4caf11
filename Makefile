# Two commands for a fresh machine:
#   make serve   set up (virtualenv, pinned installs, data build) and start the service
#   make test    set up (incl. Debian test dependencies) and run the test suite
# Both are idempotent: each step is skipped when its output is up to date.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: setup build serve test test-all lint typecheck web system-deps bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip==26.3"
	$(BIN)/pip install -q --only-binary=:all: -c constraints.txt -e ".[dev,bench]"
	touch $@

setup: $(STAMP) web

web:
	@if [ -f app/web/package-lock.json ]; then \
	  if [ ! -d app/web/node_modules ] || [ app/web/package-lock.json -nt app/web/node_modules ]; then \
	    (cd app/web && npm ci --no-audit --no-fund --silent); fi; \
	  (cd app/web && npm run --silent build); fi

build: $(STAMP)
	$(BIN)/zoning build

serve: setup build
	$(BIN)/zoning serve --host $(HOST) --port $(PORT)

system-deps:
	./scripts/install-system-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check layers zoning app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy layers zoning app

test: system-deps setup build lint typecheck
	$(BIN)/pytest

test-all: system-deps setup build
	$(BIN)/pytest -m "" 

bench: setup build
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) data/processed/* .pytest_cache
