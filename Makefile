# The two commands of the README:
#   make reproduce  - set up .venv and run the default main job (config/config.yaml)
#   make test       - set up .venv (and Chromium for the report test) and run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
STAMP := $(VENV)/.installed

.PHONY: setup browser slurm reproduce smoke test lint bench clean

# (Re)install when pyproject.toml changes; the venv is created only if missing.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP)

# The report test drives a real headless Chromium (Debian's chromium and chromium-driver).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "Chromium is missing: run 'sudo apt-get install chromium chromium-driver'"; exit 1; \
		fi; \
	fi

# The SLURM test (tests/test_slurm.py) starts a one-node cluster from Debian's packages.
slurm:
	@bash scripts/ci/install_slurm.sh

reproduce: setup
	$(BIN)/snakemake --cores $(CORES)

smoke: setup
	$(BIN)/snakemake --cores $(CORES) --configfile config/smoke.yaml

lint: setup
	$(BIN)/ruff check workflow tests
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint --configfile config/smoke.yaml

test: setup browser slurm lint
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/taskvectors bench --model gemma-3-270m

clean:
	rm -rf results reports/main reports/smoke .snakemake test-artifacts
