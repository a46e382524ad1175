# `make demo` and `make test` work on a fresh machine: each sets up .venv first.
PYTHON ?= $(firstword $(foreach p,python3.12 $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12),$(shell $(p) -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && echo $(p))))
VENV := .venv
PY := $(VENV)/bin/python
# A new directory per demo: never overwrites an earlier run.
DEMO_DIR ?= workdirs/demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: setup demo test clean

setup: $(VENV)/.installed

# The pinned set first, then the clone itself (editable: the odn-* commands and
# --config=NAME, with configs/ and launch/ mapped into the package).
$(VENV)/.installed: requirements.txt setup.cfg pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.12 not found; install it or pass PYTHON=/path/to/python3.12" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The whole method on the embedded digits: warm-up, growth, fine-tuning, extraction.
demo: setup
	$(PY) launch/train.py --config=configs/quickstart.py --workdir=$(DEMO_DIR)

test: setup
	$(PY) -m pytest -q tests

clean:
	rm -rf $(VENV)
