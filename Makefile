# Warga: `make run` serves the bot, `make test` runs the whole test suite.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
RASA_VENV := .venv-rasa
# pyenv's shim exists even when 3.10 is not selected, so ask pyenv for the real path first.
RASA_PYTHON ?= $(shell p=$$(pyenv root 2>/dev/null)/versions/3.10.13/bin/python3.10; \
  if [ -x "$$p" ]; then echo $$p; else command -v python3.10; fi)
CHROMIUM ?= /usr/bin/chromium
export NO_PROXY := 127.0.0.1,localhost,$(NO_PROXY)
export no_proxy := 127.0.0.1,localhost,$(no_proxy)

.PHONY: run test lint venv dev-venv rasa-venv browser assets migrate model local-model bench-nlu clean help
help:
	@echo "make run    create the environment, migrate, load demo data, serve on http://127.0.0.1:8080 (Rasa installs in the background)"
	@echo "make test   create the environment (with dev tools, Rasa, Chromium) and run every test"
	@echo "make lint   ruff and mypy (make test runs them first)"

# uv (from the package registry, pinned) installs both environments: the same packages pip
# resolves under the same constraints, in a fraction of the time and CPU (measured: Rasa's 2.7 GB
# environment in about a minute and a half instead of three). Unlike pip, uv writes no bytecode
# unless asked: without it every process compiles what it imports, and where
# PYTHONDONTWRITEBYTECODE is set it does so at every start (measured: importing the gateway
# 5.3 → 2.0 s of CPU, a Rasa process 14.4 → 4.6 s).
UV_VERSION := 0.13.9
UV := $(BIN)/uv

# What serving needs (`make run`); the dev tools (pytest, Playwright, mypy, ...) come with
# dev-venv, for `make test` and `make lint`: serving does not wait for them.
$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e .
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed pyproject.toml
	test -x $(UV) || $(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV) pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@

venv: $(BIN)/.installed
dev-venv: $(BIN)/.dev-installed

# Rasa 3.6 needs Python 3.10 and old libraries: it lives in its own virtualenv, pinned by a
# constraints file so a fresh install gets what was tested. nlu/rasa/install.sh takes a lock, so
# this, `make test` and the background install of `make run` never install into it together.
$(RASA_VENV)/.installed: nlu/rasa/constraints.txt | $(BIN)/.installed
	UV="$(UV)" RASA_PYTHON="$(RASA_PYTHON)" nlu/rasa/install.sh $(RASA_VENV) var

rasa-venv: $(RASA_VENV)/.installed

# Debian's Chromium for the browser tests (never a browser downloaded by a test tool).
browser:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends chromium; \
	  else sudo apt-get install -y --no-install-recommends chromium; fi; }

# The console's browser libraries (Leaflet, Chart.js) come from the npm registry at the versions
# package-lock.json pins, and are served from /static/vendor: nothing is loaded from a CDN.
VENDOR := bot/web/static/vendor
$(VENDOR)/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed for the console's map and charts"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/leaflet $(VENDOR)/chartjs
	cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
	  node_modules/leaflet/dist/images node_modules/leaflet/LICENSE $(VENDOR)/leaflet/
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md $(VENDOR)/chartjs/
	touch $@

assets: $(VENDOR)/.installed

migrate: venv
	$(BIN)/warga db upgrade

model: venv rasa-venv
	$(BIN)/warga nlu train --if-missing

# The in-process (sklearn) model only: seconds, and enough to answer citizens.
local-model: venv
	$(BIN)/warga nlu train --engine sklearn --if-missing

# Serves within minutes on a fresh machine: Rasa's 2.7 GB environment is installed in the
# background (var/rasa-install.log) while the in-process engine answers; `warga run` waits for
# it, trains and starts Rasa, and switches to it without a restart (bot/runtime/rasa.py).
run: venv assets migrate local-model
	$(BIN)/warga demo load --if-empty
	@UV="$(UV)" RASA_PYTHON="$(RASA_PYTHON)" nlu/rasa/install.sh --background $(RASA_VENV) var
	$(BIN)/warga run

LINT_PATHS := bot channels nlu tests bench

lint: dev-venv
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/mypy $(LINT_PATHS)

# The project's own modules are compiled once here, for the same reason as the environments'.
test: dev-venv rasa-venv browser assets lint
	$(BIN)/python -m compileall -q bot channels nlu tests bench
	$(BIN)/python -m pytest -q -n 4 --dist loadfile

# Both NLU engines trained and evaluated on the same data; rewrites its part of docs/BENCHMARKS.md.
bench-nlu: venv rasa-venv
	$(BIN)/python bench/nlu_bench.py

clean:
	rm -rf $(VENV) $(RASA_VENV) node_modules $(VENDOR) var/*.db var/models var/rasa var/rasa-install.*
