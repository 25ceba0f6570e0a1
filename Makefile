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

# Multi-process tests (DDP ranks, a training process killed with SIGKILL) are marked `serial`: they
# run in a second pytest session, one at a time, so they never share the 2 cores with xdist workers.
# The two xdist workers take one thread each (two workers of two threads oversubscribe the cores).
test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m "not slow and not serial" tests
	$(PY) -m pytest -m "serial and not slow" tests

# Tests marked slow (none at the moment: pytest's exit code 5, "nothing collected", is not a failure).
test-slow: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m "slow and not serial" tests || [ $$? -eq 5 ]
	$(PY) -m pytest -m "slow and serial" tests || [ $$? -eq 5 ]

test-all: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -m "not serial" tests
	$(PY) -m pytest -m serial tests

lint: $(STAMP)
	$(VENV)/bin/ruff check actdiff tests benchmarks experiments notebooks

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
