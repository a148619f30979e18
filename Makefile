# skewaudit developer targets. `make test` is what CI runs (.ci/run).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: dev lock example test test-lowest fuzz schema docs bench clean golden

# Installs are reproducible: every package (and the build backend) comes from
# requirements.lock with its hashes; skewaudit itself is then installed without
# resolving anything. `pip install .` stays possible for users (unpinned).
$(BIN)/skewaudit: pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	@touch $@

dev: $(BIN)/skewaudit

# Refresh requirements.lock from pyproject.toml (runtime + test extras + build backend),
# with hashes, for every platform (uv's universal resolution). uv is pinned here and is
# only needed to refresh the lock; installing from it needs nothing but pip.
UV_VERSION ?= 0.13.9
lock:
	$(PY) -m venv .venv-lock
	.venv-lock/bin/pip install -q uv==$(UV_VERSION)
	printf 'setuptools>=77\n' > .venv-lock/build.in
	.venv-lock/bin/uv pip compile pyproject.toml .venv-lock/build.in --extra test --universal \
	  --python-version 3.11 --generate-hashes --no-header --quiet -o requirements.lock
	rm -rf .venv-lock

# The lower bounds in pyproject.toml are real: resolve the lowest allowed version of every direct dependency
# (uv --resolution lowest-direct; indirect ones at their newest), install them into a throwaway venv and run
# the whole suite there. Needs the package index; not part of `make test` or CI: run it when a bound changes.
test-lowest:
	rm -rf .venv-lowest .venv-lowest-uv
	$(PY) -m venv .venv-lowest-uv
	.venv-lowest-uv/bin/pip install -q uv==$(UV_VERSION)
	printf 'setuptools>=77\n' > .venv-lowest-uv/build.in   # the build backend's bound is tested too
	.venv-lowest-uv/bin/uv pip compile pyproject.toml .venv-lowest-uv/build.in --extra test \
	  --resolution lowest-direct --python-version 3.11 --no-header --quiet -o .venv-lowest-uv/lowest.txt
	$(PY) -m venv .venv-lowest
	.venv-lowest-uv/bin/uv pip install --quiet --python .venv-lowest/bin/python -r .venv-lowest-uv/lowest.txt
	.venv-lowest-uv/bin/uv pip install --quiet --python .venv-lowest/bin/python --no-deps -e .
	.venv-lowest/bin/python -m pytest -q -m "not gpu" tests

# The README's first command: audit the bundled example (no cluster, no GPU).
example: dev
	$(BIN)/skewaudit diff specs/examples/llama-3.1-70b-vllm.yaml --manifest specs/examples/manifests/llama-3.1-70b-vllm-drifted.yaml; \
	  echo "exit code: $$? (1 = drift found, see README)"

test: dev
	$(BIN)/python -m pytest -q -m "not gpu" tests

# Long property-based fuzzing of every input parser (tests/test_fuzz.py; `make test` runs a short
# profile). Prints examples tried and failures per target; exit 1 when something failed.
# FUZZ_TARGETS=redaction,manifest (in the environment) runs only those targets.
FUZZ_MINUTES ?= 30
fuzz: dev
	FUZZ_MINUTES=$(FUZZ_MINUTES) $(BIN)/python tests/fuzz_run.py

schema: dev
	$(BIN)/skewaudit schema > specs/modelspec.schema.json.tmp && mv specs/modelspec.schema.json.tmp specs/modelspec.schema.json

bench: dev
	$(BIN)/python benchmarks/fleet.py

clean:
	rm -rf $(VENV) .venv-lowest .venv-lowest-uv build *.egg-info .pytest_cache

# Regenerate the README check table from the registry (tests/test_registry.py checks it).
docs: dev
	$(BIN)/python -c "import re,subprocess,pathlib; p=pathlib.Path('README.md'); t=p.read_text(); \
	out=subprocess.run(['$(BIN)/skewaudit','checks','--format','markdown'],capture_output=True,text=True,check=True).stdout; \
	p.write_text(re.sub(r'(?s)<!-- checks:start -->\n.*?<!-- checks:end -->', lambda m: '<!-- checks:start -->\n'+out+'<!-- checks:end -->', t))"

golden: dev
	SKEWAUDIT_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_render.py
