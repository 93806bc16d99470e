# Two commands for a fresh machine: `make demo` and `make test`.
# Both create .venv and install the project into it when it is missing.
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
# The torch build pinned for this project's reference machines; override on others,
# e.g. `make test TORCH_SPEC="torch torchvision"`.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.installed

.PHONY: test test-all lint demo venv clean-data

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet $(TORCH_SPEC)
	$(VPY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# ruff's lint rules and format check ([tool.ruff] in pyproject.toml); `ruff format .` fixes the format.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	$(VPY) -m pytest -q

# Also runs the tests marked slow.
test-all: $(STAMP)
	$(VPY) -m pytest -q -m ''

demo: $(STAMP)
	$(VPY) -u scripts/demo.py

clean-data:
	rm -rf data/synthetic data/cache
