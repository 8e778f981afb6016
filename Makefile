# Two commands on a fresh machine: `make demo` and `make test`. Each sets itself up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# Label Studio's own config parser, for tests only: the SDK without its heavy client dependencies
	$(BIN)/python -m pip install --quiet --no-deps 'label-studio-sdk>=1.0'
	$(BIN)/python -m pip install --quiet xmljson pydantic jsf lxml 'pyjwt<2.14' appdirs
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check labelspec tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --formats parquet,csv,jsonl
	$(BIN)/python benchmarks/run.py --sizes 10k,50k,100k,1m --kinds spans,ranking --what floor,check --formats parquet

clean:
	rm -rf $(VENV) build *.egg-info
