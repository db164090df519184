# The README's commands. Everything the project needs is installed from here into .venv.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: venv run test lint format clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## run: migrate and seed the SQLite default under instance/, then serve on http://127.0.0.1:5000
run: $(STAMP)
	$(BIN)/flask --app backend db upgrade
	$(BIN)/flask --app backend seed
	$(BIN)/flask --app backend run --host $(HOST) --port $(PORT)

## test: the whole suite (SQLite and in-process jobs unless TEST_DATABASE_URL / TEST_REDIS_URL say otherwise)
test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
