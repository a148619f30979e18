# skewaudit developer targets. `make test` is what CI runs (.ci/run).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: dev example test schema check-docs bench clean

$(BIN)/skewaudit: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

dev: $(BIN)/skewaudit

# The README's first command: audit the bundled example (no cluster, no GPU).
example: dev
	$(BIN)/skewaudit diff specs/examples/llama-3.1-70b-vllm.yaml --manifest specs/examples/manifests/llama-3.1-70b-vllm-drifted.yaml; \
	  echo "exit code: $$? (1 = drift found, see README)"

test: dev
	$(BIN)/python -m pytest -q -m "not gpu" tests

schema: dev
	$(BIN)/skewaudit schema > specs/modelspec.schema.json.tmp && mv specs/modelspec.schema.json.tmp specs/modelspec.schema.json

bench: dev
	$(BIN)/python benchmarks/fleet.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
