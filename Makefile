# Two commands on a fresh machine: `make report` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
DEMO_JA := data/demo-ja
# The Japanese demo's customers pay in yen: 1,800 yen a seat and month (12 in the English one).
YEN_PER_SEAT ?= 1800
DEMO_CUSTOMERS ?= 20000
DEMO_SEED ?= 1

.PHONY: setup report report-ja test lint lab bench clean browser java

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

# The same demo in Japanese, money in yen (README, "Reports in Japanese").
$(DEMO_JA)/truth.json: $(STAMP) $(wildcard src/churn_causal/sim/*.py) src/churn_causal/sim/simulator.yaml notebooks/demo-ja.yaml
	$(BIN)/churn-causal simulate --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED) --out $(DEMO_JA) \
	  --scenarios notebooks/demo-ja.yaml --set population.price_per_seat=$(YEN_PER_SEAT)

report-ja: $(DEMO_JA)/truth.json
	$(BIN)/churn-causal report --config notebooks/demo-ja.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

# The report tests open the HTML in Debian's chromium (network features off), Japanese pages
# with Debian's Noto CJK fonts.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }
	@[ -n "$$(fc-list :lang=ja family)" ] || { \
	  echo "installing Debian's fonts-noto-cjk for the Japanese pages"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq fonts-noto-cjk >/dev/null; }

# Spark (the cohorts' other engine, in local mode in the tests) runs on a Java runtime.
java:
	@command -v java >/dev/null || { \
	  echo "installing Debian's Java runtime for Spark"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq default-jre-headless >/dev/null; }

test: lint browser java
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
	rm -rf $(VENV) $(DEMO) $(DEMO_JA) reports/ja reports/[0-9]* reports/latest reports/.staging-* reports/history.duckdb \
	  tests/artifacts
