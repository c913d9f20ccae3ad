# Everything runs from .venv, which these targets create and fill themselves:
# a fresh machine needs only Python 3.10+ and the package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test typecheck coverage venv system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/leadkit demo

# nginx and Chromium for the reverse-proxy and real-browser tests: installed when missing and
# run as root with apt-get; elsewhere those tests skip and say why.
system-deps:
	@bash scripts/system-deps.sh

# mypy --strict over the package (settings in pyproject.toml): kept at 0 errors.
typecheck: $(STAMP)
	$(BIN)/mypy --strict leadkit

test: $(STAMP) system-deps typecheck
	$(BIN)/python -m pytest

# The whole suite under coverage, the processes it starts included (settings in pyproject.toml).
coverage: $(STAMP) system-deps
	rm -rf .coverage-data && mkdir -p .coverage-data
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage combine -q && $(BIN)/coverage report

clean:
	rm -rf $(VENV) build dist *.egg-info .coverage-data
