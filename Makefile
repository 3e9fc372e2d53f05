# Two commands on a fresh machine: `make report` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 1

.PHONY: setup report test lint lab bench clean browser

setup: $(STAMP)

# Re-install whenever the dependencies change; pip reaches only the package registries.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO)/truth.json: $(STAMP) $(wildcard src/churn_causal/sim/*.py) src/churn_causal/sim/simulator.yaml notebooks/demo.yaml
	$(BIN)/churn-causal simulate --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED) --out $(DEMO) \
	  --scenarios notebooks/demo.yaml

report: $(DEMO)/truth.json
	$(BIN)/churn-causal report --config notebooks/demo.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

# The report tests open the HTML in Debian's chromium (network features off).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: lint browser
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	$(BIN)/python -m churn_causal.grading.bench
	$(BIN)/churn-causal validate-methods --replications 20 --customers 20000
	$(BIN)/churn-causal validate-dynamics --replications 20 --customers 20000
	$(BIN)/churn-causal validate-whatif --replications 20 --customers 20000
	$(BIN)/churn-causal validate-targeting --replications 10 --customers 20000

clean:
	rm -rf $(VENV) $(DEMO) reports/[0-9]* reports/latest reports/.staging-* reports/history.duckdb \
	  tests/artifacts
