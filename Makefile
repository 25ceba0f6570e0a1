# ActDiff — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
# Keep the test suite's CPU threads bounded on small machines.
export OMP_NUM_THREADS ?= 2
export WANDB_MODE ?= disabled
export HF_HUB_OFFLINE ?= 1
export MPLBACKEND ?= Agg

.PHONY: venv demo test test-slow test-all lint bench clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/actdiff demo

# Multi-process (DDP) tests spawn their own ranks: they run in a second, serial pytest session so
# that they never share the 2 cores with the xdist workers.
test: $(STAMP)
	$(PY) -m pytest -n 2 -m "not slow and not ddp" tests
	$(PY) -m pytest -m "ddp and not slow" tests

test-slow: $(STAMP)
	$(PY) -m pytest -n 2 -m "slow and not ddp" tests

test-all: $(STAMP)
	$(PY) -m pytest -n 2 -m "not ddp" tests
	$(PY) -m pytest -m ddp tests

lint: $(STAMP)
	$(VENV)/bin/ruff check actdiff tests

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
