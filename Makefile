# Two commands do all set-up on a fresh machine:
#   make run    start the service on the embedded default (SQLite) with the sample data, http://127.0.0.1:8000
#   make test   install everything the tests need (venv, torch CPU, chromium, pgvector, qemu-user) and run the suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-fast setup test-setup bench bench-smoke quality clean

$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

# torch is named with sentence-transformers in one install, so pip takes the CPU build on the machine
# instead of the newest CUDA one; the service itself never needs torch.
$(VENV)/.test: $(VENV)/.base scripts/install_browser.sh scripts/install_pgvector.sh scripts/install_qemu.sh
	$(PIP) install -e ".[test,postgres,st]" "torch==2.13.0"
	bash scripts/install_browser.sh $(VENV)
	bash scripts/install_pgvector.sh
	bash scripts/install_qemu.sh
	touch $@

setup: $(VENV)/.base
test-setup: $(VENV)/.test

run: $(VENV)/.base
	TICKER_LOAD_SAMPLE_DATA=$${TICKER_LOAD_SAMPLE_DATA:-1} $(PY) -m app --host $(HOST) --port $(PORT)

test: $(VENV)/.test
	bash scripts/test.sh $(PYTEST_ARGS)

# The edit-test loop: no browser, no PostgreSQL, nothing marked slow, one worker per core (pytest-xdist).
test-fast: $(VENV)/.test
	env -u TICKER_TEST_PG_DSN $(PY) -m pytest -q -p no:cacheprovider -n auto -m "not browser and not slow" $(PYTEST_ARGS)

$(VENV)/.bench: $(VENV)/.base
	$(PIP) install -e ".[bench]"
	$(PIP) install --no-deps "bertopic==0.17.4"
	touch $@

bench: $(VENV)/.bench
	$(PY) -m bench.run

bench-smoke: $(VENV)/.bench
	$(PY) -m bench.run --smoke

quality: $(VENV)/.base
	bash scripts/quality.sh

clean:
	rm -rf $(VENV) data
