# The README's commands. Everything the project needs is installed from here into .venv, from the lock file.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
# what the lock is resolved for and from: every platform, Python 3.11, PyPI
LOCK_FLAGS := --extra dev --generate-hashes --universal --python-version 3.11 --index-url https://pypi.org/simple

.PHONY: venv vendor run test coverage lint typecheck format lock upgrade clean

# ECharts for the console's statistics pages, from the npm registry at build time (never committed): the
# tarball is checked against the integrity the registry publishes for the pinned version (`npm view
# echarts@VERSION dist.integrity`) before its dist/echarts.min.js is put in the console's static folder.
ECHARTS_VERSION := 6.1.0
ECHARTS_INTEGRITY := sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==
VENDOR := backend/console/static/vendor
ECHARTS := $(VENDOR)/echarts.min.js

# Exact versions and hashes from requirements.lock; pyproject.toml keeps the ranges the lock is resolved in.
# The lock is the whole resolution, so pip installs it as it is (--no-deps) and `pip check` proves it complete:
# left to resolve again, pip 23 looks up a dependency asked for with an extra (pytest-cov's coverage[toml])
# on the index, finds a newer release than the lock's and refuses it as unpinned.
$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip check
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP) $(ECHARTS)

## vendor: fetch the console's ECharts (run, test and coverage do it when it is missing or its pin changed)
vendor: $(ECHARTS)

# Rewritten only when the pinned version differs from the one fetched, so that a new pin fetches again.
$(VENDOR)/.echarts-version: FORCE
	@mkdir -p $(VENDOR)
	@echo $(ECHARTS_VERSION) | cmp -s - $@ || echo $(ECHARTS_VERSION) > $@

$(ECHARTS): $(VENDOR)/.echarts-version
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	echo "fetching echarts $(ECHARTS_VERSION) from the npm registry" && \
	curl -fsSL --retry 3 -o "$$tmp/echarts.tgz" https://registry.npmjs.org/echarts/-/echarts-$(ECHARTS_VERSION).tgz && \
	$(PYTHON) -c 'import base64, hashlib, sys; digest = base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode(); sys.exit(0 if "sha512-" + digest == sys.argv[2] else "echarts: the tarball does not match the pinned sha512")' "$$tmp/echarts.tgz" '$(ECHARTS_INTEGRITY)' && \
	tar -xzf "$$tmp/echarts.tgz" -C "$$tmp" package/dist/echarts.min.js && \
	mv "$$tmp/package/dist/echarts.min.js" $@ && touch $@

FORCE:

## run: migrate and seed the SQLite default under instance/, then serve on http://127.0.0.1:5000
run: $(STAMP) $(ECHARTS)
	$(BIN)/flask --app backend db upgrade
	$(BIN)/flask --app backend seed
	$(BIN)/flask --app backend run --host $(HOST) --port $(PORT)

## test: the whole suite (SQLite and in-process jobs unless TEST_DATABASE_URL / TEST_REDIS_URL say otherwise)
test: $(STAMP) $(ECHARTS)
	$(BIN)/pytest $(PYTEST_ARGS)

## coverage: the same suite, measuring which lines and branches it runs; prints the figure per file and in all
coverage: $(STAMP) $(ECHARTS)
	$(BIN)/pytest --cov --cov-report=term $(PYTEST_ARGS)

lint: $(STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## typecheck: mypy, lenient on the project and strict on backend/cases and bot (pyproject.toml)
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## lock: resolve requirements.lock again from pyproject.toml, keeping the versions it has where they still fit
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock

## upgrade: every dependency to its newest release within pyproject.toml's ranges (then run make test)
upgrade: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) --upgrade -o requirements.lock

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache .coverage $(VENDOR)
