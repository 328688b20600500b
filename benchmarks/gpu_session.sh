#!/bin/bash
# Every GPU figure the open issues ask for (30: the engine on torch_cuda; 32: the chain with full-size models), in
# one command of at most 10 minutes on one CUDA GPU. Prepared on a machine without a GPU: NOT RUN YET.
#
# Before, on a machine with the package registries (the GPU machine has none), put the wheels it lacks in wheels/
# (ignored by git: echo /wheels/ >> .git/info/exclude):
#     pip download --no-deps -d wheels himalaya diffusers nibabel nilearn
# Then, with the device tool: run "bash benchmarks/gpu_session.sh", carry ["wheels"], timeout_s 600.
# Results land in $OUT (or results_gpu/ without it): the JSON files, and log.txt.
set -u -o pipefail
OUT=${OUT:-results_gpu}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $PY -m pip install --no-deps --no-index wheels/*.whl -q && $PY -m pip install --no-deps --no-build-isolation -e . -q
  $PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
  # each step has its own limit, so that one slow step does not lose the others' figures (at most 9.5 minutes in all)
  # issue 30: 12,288 targets against himalaya on the same device, then 88,000 targets (each method its own process)
  timeout 140 $PY benchmarks/bench_ridge.py --backend torch_cuda --only ridge_decode,himalaya_kernelridgecv \
      --json "$OUT/bench_ridge_gpu_12k.json"
  timeout 80 $PY benchmarks/bench_ridge.py --backend torch_cuda --targets 88000 --only ridge_decode \
      --json "$OUT/bench_ridge_gpu_88k.json"
  # issue 32: full-size random models once; each family's extraction against its model alone; decoding
  # against the UNet alone; then the chain
  W=/tmp/fullsize_weights
  timeout 90 $PY -c "from pathlib import Path; from ridge_decode.tiny import make_fullsize_weights as f, \
make_tiny_metric_weights as m; m(f(Path('$W')))"
  timeout 80 $PY benchmarks/bench_features.py --forward --weights-root $W --device cuda --dtype float16 \
      --families ipadapter_plus,autokl,clip_text,clip_layers --n-images 1024 --batch-size 64 \
      --json "$OUT/bench_features_gpu.json"
  timeout 80 $PY benchmarks/bench_decode.py --weights-root $W --device cuda --dtype float16 --n-images 32 \
      --batch-size 8 --json "$OUT/bench_decode_gpu.json"
  timeout 100 $PY benchmarks/bench_pipeline.py --size full --weights-root $W --json "$OUT/bench_pipeline_full.json"
  nvidia-smi --query-gpu=memory.used --format=csv
} 2>&1 | tee "$OUT/log.txt"
