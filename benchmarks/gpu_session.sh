#!/bin/bash
# The GPU figures of issues 30 and 32, in one command of at most 10 minutes on one CUDA GPU:
#   issue 30: the engine on torch_cuda at 12,288 targets against himalaya on the same device, held-out r against
#             the committed numpy run, then 88,000 targets with the GPU's peak memory;
#   issue 32: each extraction family against its model alone, decoding against the UNet alone, and the chain
#             (bench_pipeline.py --size full), with full-size random-weight models built once.
# Not yet run on a GPU. `REHEARSE=1 bash benchmarks/gpu_session.sh` runs every step on the CPU at small sizes,
# with tiny models and the torch backend: it checks that each command runs, not what it costs.
#
# The GPU machine has no package registry. Before, where pip reaches PyPI, put the pure-Python wheels it lacks in
# .whl/ (ignored by git: echo /.whl/ >> .git/info/exclude):
#     pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl himalaya==0.4.11 diffusers==0.42.1 \
#         nibabel==5.4.2 nilearn==0.14.1
# (21 MB, pure Python; the machine's own torch, transformers, h5py, scikit-learn and the rest serve as they are:
# the CPU rehearsal also passed in a Python 3.12 venv with its torch 2.11, torchvision 0.26, transformers 5.17,
# huggingface_hub 1.33 and numpy 2.5.2, the versions last read there.)
# Then run "bash benchmarks/gpu_session.sh" there, carrying .whl, with a 600 s limit. Results land in $OUT (or
# results_gpu/ without it): one JSON per step and log.txt.
set -u -o pipefail
OUT=${OUT:-results_gpu}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONUNBUFFERED=1
BUDGET=${BUDGET:-560}  # seconds for every step together, inside the device tool's 600 s per command
REF=benchmarks/results
if [ "${REHEARSE:-0}" = 1 ]; then
  DEVICE=cpu BACKEND=torch DTYPE=float32 SCALE=--quick T12=2048 T88=4096 REF12="" REF88="" MAKE=make_tiny_weights
  N_FEATURES=64 STEPS="--steps 2"
else
  DEVICE=cuda BACKEND=torch_cuda DTYPE=float16 SCALE="" T12=12288 T88=88000 MAKE=make_fullsize_weights STEPS=""
  REF12="--reference $REF/bench_ridge_nsd.json" REF88="--reference $REF/bench_ridge_88k.json" N_FEATURES=1024
fi

# step NAME CAP COMMAND...: runs COMMAND with at most CAP seconds, and never past the budget; says how it ended
step() {
  local name=$1 cap=$2 left=$((BUDGET - SECONDS)) rc
  shift 2
  if [ "$left" -lt 15 ]; then echo "== $name: skipped, ${left} s of the budget left"; return; fi
  [ "$cap" -gt "$left" ] && cap=$left
  echo "== $name (at most ${cap} s; ${SECONDS} s into the session)"
  timeout "$cap" "$@"
  rc=$?
  if [ "$rc" = 124 ]; then echo "== $name: cut at its ${cap} s"; else echo "== $name: exit $rc, ${SECONDS} s in"; fi
}

{
  if [ "${REHEARSE:-0}" != 1 ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    if ls .whl/*.whl >/dev/null 2>&1; then
      $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
      export PYTHONPATH=/tmp/site
    fi
  fi
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}  # the package from this checkout, no install
  $PY -c "import torch, himalaya, diffusers, nilearn, ridge_decode; print('torch', torch.__version__, \
torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU', '| himalaya', himalaya.__version__, \
'| diffusers', diffusers.__version__)" || exit 1
  # issue 30 first (the cheaper figures): each method in its own process
  step "ridge, $T12 targets" 140 $PY benchmarks/bench_ridge.py $SCALE --backend $BACKEND --targets $T12 \
      --only ridge_decode,himalaya_kernelridgecv $REF12 --json "$OUT/bench_ridge_gpu_12k.json"
  step "ridge, $T88 targets" 100 $PY benchmarks/bench_ridge.py $SCALE --backend $BACKEND --targets $T88 \
      --only ridge_decode $REF88 --json "$OUT/bench_ridge_gpu_88k.json"
  # issue 32: the models once (weights and the evaluation networks), then each part, then the chain
  W=/tmp/gpu_session_weights
  rm -rf "$W"
  step "models" 90 $PY -c "from pathlib import Path; from ridge_decode.weights.tiny import $MAKE as f, \
make_tiny_metric_weights as m; m(f(Path('$W')))"
  step "extraction against the models alone" 110 $PY benchmarks/bench_features.py --forward --weights-root $W \
      --device $DEVICE --dtype $DTYPE --families ipadapter_plus,autokl,clip_text,clip_layers \
      --n-images $N_FEATURES --batch-size 64 --json "$OUT/bench_features_gpu.json"
  step "decoding against the UNet alone" 80 $PY benchmarks/bench_decode.py --weights-root $W --device $DEVICE \
      --dtype $DTYPE --n-images 32 --batch-size 8 --json "$OUT/bench_decode_gpu.json"
  # the chain gets what is left of the budget
  step "the chain, bench_pipeline --size full" $BUDGET $PY benchmarks/bench_pipeline.py --size full \
      --device $DEVICE --fit-device $BACKEND $STEPS --weights-root $W --json "$OUT/bench_pipeline_full.json"
  [ "${REHEARSE:-0}" = 1 ] || nvidia-smi --query-gpu=memory.used --format=csv
  echo "== done, ${SECONDS} s"
} 2>&1 | tee "$OUT/log.txt"
