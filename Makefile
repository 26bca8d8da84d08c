# Fresh-clone entry points: `make train` and `make test` create .venv and install everything first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install train test test-slow lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch is pinned for the dev/test install: 2.13.0 is the CPU build this project is tested with.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

train: $(STAMP)
	$(VENV)/bin/relayrl train --env CartPole-v1 --experiment cartpole

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff format --check relayrl tests benchmarks examples
	$(VENV)/bin/ruff check relayrl tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) build *.egg-info
