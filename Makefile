# The README's two commands: `make demo` and `make test`. Both build .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench bench-load bench-api clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/okrbot demo

test: $(STAMP)
	scripts/ensure-postgres
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m bench.status_latency

# SPEC §6 under load (issue #8): both backends, a few minutes; ARGS="--backend sqlite" etc.
bench-load: $(STAMP)
	$(BIN)/python -m bench.load $(ARGS)

# Issue #10 item 8: KPI pushes over the HTTP API against the bare Bolt app, both backends.
bench-api: $(STAMP)
	$(BIN)/python -m bench.api $(ARGS)

clean:
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis
