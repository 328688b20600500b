# The two commands: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ridge_decode-installed
# The matched CPU-runnable pair that lies on this workplace's disk; a bare `torch` would let pip pick a build
# whose torchvision ops do not match (`operator torchvision::nms does not exist`).
TORCH_PAIR ?= torch==2.14.1 torchvision==0.29.1
SYNTH ?= data/synthetic

.PHONY: setup test demo tutorial lint reproduce clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	@$(PY) -c "import torch, torchvision" 2>/dev/null || $(PY) -m pip install $(TORCH_PAIR)
	$(PY) -m pip install -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest

demo: setup
	$(PY) scripts/demo.py --data-root $(SYNTH) --out results

# docs/tutorial.md and its figures, generated from examples/tutorial.py on the synthetic subject
tutorial: setup
	$(PY) examples/tutorial.py --data-root $(SYNTH) --out docs

# The whole NSD chain for subjects 1, 2, 5, 7 (needs the NSD agreement, the weights and a GPU): NSD=/data/nsd
NSD ?= data/nsd
reproduce: setup
	$(PY) scripts/reproduce_nsd.py --data-root $(NSD) $(REPRODUCE_ARGS)

lint: setup
	$(VENV)/bin/ruff check ridge_decode scripts tests benchmarks examples

clean:
	rm -rf results outputs $(SYNTH)
