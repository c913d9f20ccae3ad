# Everything runs from .venv, which these targets create and fill themselves:
# a fresh machine needs only Python 3.10+ and the package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Lighthouse for the accessibility tests, from the npm registry (13 wants Node 22; Debian 12's is 18.20).
LIGHTHOUSE_VERSION := 12.2.3
LIGHTHOUSE_DIR     := .lighthouse
LIGHTHOUSE_STAMP   := $(LIGHTHOUSE_DIR)/.installed-$(LIGHTHOUSE_VERSION)

.PHONY: demo test typecheck coverage venv system-deps lighthouse clean catalogs territories bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/leadkit demo

# nginx, Chromium and Node.js with npm for the reverse-proxy, real-browser and Lighthouse tests:
# installed when missing and run as root with apt-get; elsewhere those tests skip and say why.
system-deps:
	@bash scripts/system-deps.sh

# Lighthouse into .lighthouse/ (ignored by git) with npm, once: the stamp names the version. No npm
# or no registry: it says so, the build goes on, and the Lighthouse tests skip and say why.
$(LIGHTHOUSE_STAMP): | system-deps
	@LIGHTHOUSE_VERSION=$(LIGHTHOUSE_VERSION) bash scripts/lighthouse.sh $(LIGHTHOUSE_DIR)

lighthouse: $(LIGHTHOUSE_STAMP)

# mypy --strict over the package (settings in pyproject.toml): kept at 0 errors.
typecheck: $(STAMP)
	$(BIN)/mypy --strict leadkit

test: $(STAMP) system-deps $(LIGHTHOUSE_STAMP) typecheck
	$(BIN)/python -m pytest

# The customer's sentences: extract them (leadkit/texts.py, the templates) into leadkit/locale/leadkit.pot
# and update every language's .po with what changed; translate what pybabel leaves empty or fuzzy
# (tests/test_i18n.py fails until every catalog translates every message).
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k Nn_:1,2 -c TRANSLATORS: --no-location --project=leadkit \
		--copyright-holder=leadkit --msgid-bugs-address="" -o leadkit/locale/leadkit.pot .
	$(BIN)/pybabel update -i leadkit/locale/leadkit.pot -d leadkit/locale -D leadkit --no-fuzzy-matching --ignore-obsolete

# The official languages of every country (leadkit/territories.py) from the installed Babel's CLDR, after an
# upgrade of Babel (tests/test_territories.py says when): a table, so that no worker loads Babel's global data.
territories: $(STAMP)
	$(BIN)/python scripts/territories.py

# The whole suite under coverage, the processes it starts included (settings in pyproject.toml).
coverage: $(STAMP) system-deps $(LIGHTHOUSE_STAMP)
	rm -rf .coverage-data && mkdir -p .coverage-data
	$(BIN)/coverage run -m pytest -q
	$(BIN)/coverage combine -q && $(BIN)/coverage report

# leadkit measured against the bare site and the limit on this machine: one table of ratios over interleaved
# rounds (bench/run.py says how). BENCH=pass,order picks rows, QUICK=1 is a smoke run, BENCH_ROUNDS=N,
# BENCH_PG_URL=postgresql://... adds the PostgreSQL journal. wrk comes from scripts/bench-deps.sh as root
# (BENCH_PHP=1: php-fpm too, for the optional PHP row); without it the rows that need it say so.
bench: $(STAMP)
	@bash scripts/bench-deps.sh
	$(BIN)/python bench/run.py $(if $(BENCH),--rows $(BENCH)) $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) $(LIGHTHOUSE_DIR) build dist *.egg-info .coverage-data
