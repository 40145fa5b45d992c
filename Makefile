# The two commands a newcomer needs: `make serve` and `make test`. Both set everything up first.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install browser ingest serve test test-fast eval bench lint format clean
DEV_SET := ../shared/dev/patient-questions.yaml

install: $(STAMP)

# torch is installed first and pinned: an unpinned torch pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Idempotent: says "up to date" in about a second when corpus/ has not changed.
ingest: $(STAMP)
	$(BIN)/clbp-chat ingest

serve: ingest
	$(BIN)/clbp-chat serve

# The browser tests drive Debian's chromium; installed here (as root) when it is missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "chromium is missing: run 'sudo apt-get install chromium' (Debian), then make test again"; exit 1; \
	  fi; }

# Everything, the browser and the slow tier included (see "Tests" in the README for the tiers).
test: ingest browser
	$(BIN)/python -m pytest

# The core behaviours in under a minute: no browser, no index builds, no sweeps, no retraining.
test-fast: ingest
	$(BIN)/python -m pytest -m "not slow and not browser" --reuse-index

# Runs the full question set and fails when a threshold in evals/thresholds.yaml is missed.
# Then, where ../shared/dev exists, the patient-message dev set with its own bounds.
eval: ingest
	$(BIN)/clbp-chat eval --out eval-runs/latest --check
	@if [ -f $(DEV_SET) ]; then \
	  $(BIN)/clbp-chat eval --set $(DEV_SET) --out eval-runs/patients --check --bounds patients; \
	fi

bench: ingest
	$(BIN)/python benchmarks/bench_answer.py
	$(BIN)/python benchmarks/bench_safety.py
	$(BIN)/python benchmarks/bench_learned.py
	$(BIN)/python benchmarks/bench_http.py
	$(BIN)/python benchmarks/bench_faults.py
	$(BIN)/python benchmarks/bench_mutations.py
	$(BIN)/python benchmarks/bench_question_log.py

# ruff (with a complexity limit, C901 in pyproject.toml), then no import cycle in the package.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/python tools/import_cycles.py src/clbp_chat
	$(BIN)/python tools/function_length.py src

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks tools
	$(BIN)/ruff check --fix src tests benchmarks tools

clean:
	rm -rf .clbp-index .clbp-cache eval-runs artifacts
