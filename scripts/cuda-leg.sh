#!/usr/bin/env bash
# The CUDA leg: the test suite (ci profile) with its cuda columns, rnn-verify on cuda, and a
# timing of nn.RNN (cuDNN) against rnn_impl on the benchmark shapes. Run on a machine with a
# CUDA device and torch, hypothesis, pytest, pytest-xdist and pytest-benchmark installed:
#   OUT=some/folder scripts/cuda-leg.sh
set -o pipefail
export PYTHONUNBUFFERED=1 CI=true
OUT="${OUT:-cuda-leg}"
mkdir -p "$OUT"
# the package itself, without touching the installed torch (offline machines included)
python3 -m pip install -q --no-deps --no-build-isolation -e . || export PYTHONPATH="$PWD/src:$PWD"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
start=$SECONDS
timeout 330 python3 -m pytest -n 8 -p no:cacheprovider -q -ra tests --ignore=tests/benchmarks \
    --junit-xml="$OUT/suite.xml" 2>&1 | tail -25 | tee "$OUT/suite-tail.log"
echo "suite: exit ${PIPESTATUS[0]} in $((SECONDS - start)) s"
start=$SECONDS
timeout 150 python3 -m rnn_impl.testing --device cuda --profile ci --json "$OUT/verify-cuda.json" \
    > "$OUT/verify-cuda.txt" 2>&1
echo "rnn-verify --device cuda --profile ci: exit $? in $((SECONDS - start)) s"
tail -45 "$OUT/verify-cuda.txt"
timeout 90 python3 -m tests.benchmarks.cuda_timing 2>&1 | tee "$OUT/timing.txt"
