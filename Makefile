# Fresh-clone entry points: `make train` and `make test` create .venv and install first: `make train`
# only what the main job needs (torch, gymnasium and the core), `make test` every optional extra too.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CORE_STAMP := $(VENV)/.installed-core
STAMP := $(VENV)/.installed

.PHONY: install train test test-fast test-multiprocess test-slow lint bench clean

$(CORE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned for the dev/test install: 2.13.0 is the CPU build this project is tested with.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e .
	touch $(CORE_STAMP)

$(STAMP): $(CORE_STAMP)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(CORE_STAMP)
	$(VENV)/bin/relayrl train --env CartPole-v1 --experiment cartpole

# `make test` runs both sets; pytest's exit code 5 ("no tests collected") fails the target like any
# other failure, so an empty selection can never pass silently.
test: test-fast test-multiprocess

# The fast set runs on every core (pytest-xdist): its tests are single-process and independent. The
# multi-process set runs one test at a time: its worker processes and Ray nodes need the cores.
test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto -m "not slow and not multiprocess"

test-multiprocess: $(STAMP)
	$(PY) -m pytest -q -m "multiprocess and not slow"

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff format --check relayrl tests benchmarks examples
	$(VENV)/bin/ruff check relayrl tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) build *.egg-info
