# The two commands: `make demo` and `make test`. Both create .venv and install the pinned set they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The matched CPU-runnable pair that lies on this workplace's disk; a bare `torch` would let pip pick a build
# whose torchvision ops do not match (`operator torchvision::nms does not exist`).
TORCH_PAIR ?= torch==2.14.1 torchvision==0.29.1
# PINNED=1 (default): install exactly requirements/constraints.txt. PINNED=0: the newest versions the ranges in
# pyproject.toml allow, to see early what the next upgrade will break.
PINNED ?= 1
CONSTRAINTS := requirements/constraints.txt
TORCH_PIN := $(VENV)/torch-pair.txt
ifeq ($(PINNED),1)
PIN_ARGS := -c $(CONSTRAINTS)
STAMP := $(VENV)/.installed-pinned
OTHER_STAMP := $(VENV)/.installed-newest
else
# the newest of everything but the torch pair, which stays matched
PIN_ARGS := -c $(TORCH_PIN) --upgrade --upgrade-strategy eager
STAMP := $(VENV)/.installed-newest
OTHER_STAMP := $(VENV)/.installed-pinned
endif
# The installer. uv (pip's interface; it links the files from its cache, installed into the venv first) sets up a
# fresh .venv in about 30 s with a cold cache and in seconds with a warm one, where pip spends two minutes
# unpacking torch's 5 GB. uv reads its own settings (UV_INDEX_URL, ...), not pip's; where it fails (no index it can
# reach) pip does the same install. INSTALLER=pip: pip alone (the default of PINNED=0, whose eager upgrade is pip's
# --upgrade-strategy; uv's --upgrade is eager already, so uv is given the arguments without it).
ifeq ($(PINNED),1)
INSTALLER ?= uv
else
INSTALLER ?= pip
endif
UV_VERSION ?= 0.13.8
UV := $(VENV)/bin/uv
ifeq ($(INSTALLER),uv)
install = { { $(PY) -m pip install -q uv==$(UV_VERSION) && \
	$(UV) pip install --python $(PY) $(subst --upgrade-strategy eager,,$(1)); } \
	|| $(PY) -m pip install --no-compile $(1); }
else
install = $(PY) -m pip install --no-compile $(1)
endif
# The data home, where the demo and the gallery write their data once (ridge_decode.get_data_home())
DATA_HOME ?= $(or $(RIDGE_DECODE_DATA),$(HOME)/ridge_decode_data)
SYNTH ?= $(DATA_HOME)/synthetic
# pytest-xdist workers: the tests are CPU-bound and independent; 2 matches the 2-core CI machine
TEST_WORKERS ?= 2
# BLAS and OpenMP threads per worker (and per process a test starts): two workers of two threads each oversubscribe
# the 2 cores (the suite took 5 min 26 s with two threads per worker, 4 min 22 s with one)
TEST_THREADS ?= 1
TEST_ENV := OMP_NUM_THREADS=$(TEST_THREADS) OPENBLAS_NUM_THREADS=$(TEST_THREADS) MKL_NUM_THREADS=$(TEST_THREADS)
# Write bytecode as Python does by default, even where the environment sets PYTHONDONTWRITEBYTECODE (this
# workplace does): otherwise every test worker, subprocess test and SLURM task compiles torch, transformers and
# diffusers from source again (about 18 s of CPU each; 12 s to import them from bytecode).
export PYTHONDONTWRITEBYTECODE :=

.PHONY: setup test test-slurm demo docs lint reproduce upgrade-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(CONSTRAINTS) | $(PY)
	@rm -f $(OTHER_STAMP)
	@printf '%s\n' $(TORCH_PAIR) > $(TORCH_PIN)
	@$(PY) -c "import torch, torchvision" 2>/dev/null || $(call install,$(TORCH_PAIR) $(PIN_ARGS))
	$(call install,-e ".[dev]" $(PIN_ARGS))
	@if [ "$(PINNED)" = 1 ]; then $(PY) tools/pins.py check $(CONSTRAINTS); fi
	@touch $(STAMP)

setup: $(STAMP)

test: setup
	$(TEST_ENV) $(PY) -m pytest -n $(TEST_WORKERS) -m "not slurm and not site" --durations=15

# the chain on a real one-node SLURM (installs slurm-wlm and munge when root; skips with the reason otherwise)
test-slurm: setup
	$(PY) -m pytest -m slurm -v tests/chain/test_slurm.py

demo: setup
	$(PY) scripts/demo.py --data-root $(SYNTH) --out results

# The documentation site (docs/_build/html), warnings as errors; the gallery's examples run in the build and write
# their data once into the data home. It builds without network: the macaque V4 example reads the session files
# from $RIDGE_DECODE_V4_DIR where it is set, else downloads them into the data home, and where neither works its
# page says what is missing. Then the site tests check the built site (docs/check_site.py: the tutorial's order, no
# figure twice, three downloaded notebooks executed outside the repository with one image output per figure of
# their page) and build the sources again with neither the V4 data nor network.
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(call install,-e ".[docs]" $(PIN_ARGS))
	@touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
	$(PY) -m pytest -q -m site tests/docs/test_docs_site.py
	@echo "open docs/_build/html/index.html"

# The whole NSD chain for subjects 1, 2, 5, 7 (needs the NSD agreement, the weights and a GPU): NSD=/data/nsd
NSD ?= data/nsd
reproduce: setup
	$(PY) scripts/reproduce_nsd.py --data-root $(NSD) $(REPRODUCE_ARGS)

lint: setup
	$(VENV)/bin/ruff check ridge_decode scripts tests benchmarks examples

# One deliberate step: resolve the newest versions in a scratch venv (the torch pair kept), write them to
# requirements/constraints.txt, then `make test` installs and tests that set. Commit the file on its own.
UPGRADE_VENV := $(VENV)-upgrade
upgrade-deps:
	rm -rf $(UPGRADE_VENV)
	$(PYTHON) -m venv $(UPGRADE_VENV)
	printf '%s\n' $(TORCH_PAIR) > $(UPGRADE_VENV)/torch-pair.txt
	$(UPGRADE_VENV)/bin/python -m pip install --no-compile $(TORCH_PAIR)
	$(UPGRADE_VENV)/bin/python -m pip install --no-compile -e ".[dev]" -c $(UPGRADE_VENV)/torch-pair.txt
	$(UPGRADE_VENV)/bin/python tools/pins.py write $(CONSTRAINTS)
	rm -rf $(UPGRADE_VENV)
	git diff --stat -- $(CONSTRAINTS) || true
	@echo "now: make test, then commit $(CONSTRAINTS) alone"

clean:
	rm -rf results outputs docs/_build docs/auto_examples
	@echo "kept the data home's datasets ($(DATA_HOME)): delete them there to free the space"
