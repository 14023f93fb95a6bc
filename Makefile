# XinYiDai — the two set-up commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test bench drill load soak install translations catalogue browser lint clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "XinYiDai needs Python 3.11 or newer (found " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) translations

# Compiled catalogues are build output (not committed); rebuilt whenever a .po file changes.
translations: $(STAMP)
	@$(BIN)/pybabel compile -d xinyidai/translations --statistics 2>&1 | grep -v "^compiling" || true
	@test -f xinyidai/translations/en/LC_MESSAGES/messages.mo

# After changing UI strings: refresh the catalogue, then translate the new entries in the .po file.
catalogue: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o xinyidai/translations/messages.pot .
	$(BIN)/pybabel update -i xinyidai/translations/messages.pot -d xinyidai/translations --ignore-obsolete

## The demo platform on http://127.0.0.1:8000 (SQLite under instance/, demo data generated once).
# Served to the browser directly (no nginx in front): threads, so a browser's idle pre-connections cannot hold
# a worker's only thread for gunicorn's 5-second wait for the first bytes (tests/test_serving.py).
run: install
	$(BIN)/xyd setup
	XYD_THREADS=$${XYD_THREADS:-4} $(BIN)/gunicorn -c deploy/gunicorn.conf.py wsgi:app

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
browser:
	@command -v chromium >/dev/null 2>&1 || test -x "$${XYD_CHROMIUM:-/nonexistent}" || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

## The whole suite (SQLite; set TEST_DATABASE_URL for PostgreSQL).
test: install browser
	$(BIN)/python -m pytest

## Benchmarks: print throughput and latency numbers (not part of the test suite).
bench: install
	$(BIN)/python -m bench

## Fault drills on a private PostgreSQL server: one PASS/FAIL line each (DRILL_DATABASE_URL: use another server).
drill: install
	$(BIN)/python -m drills

## Load test: locust against gunicorn on PostgreSQL, 100,000 enterprises (seeded once into LOAD_DATABASE_URL).
## LOAD_ARGS=--rebuild seeds afresh; `make soak` runs 10 minutes and watches the workers' memory.
load: install
	$(BIN)/python -m loadtest $(LOAD_ARGS)

soak: install
	$(BIN)/python -m loadtest --soak $(LOAD_ARGS)

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
