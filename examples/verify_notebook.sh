#!/usr/bin/env bash
# Verify the seed notebook's MyRNN as it was written (examples/notebook/my_rnn.py) and with its
# bugs fixed (my_rnn_fixed.py), each with no flag but the profile: the constructor is bound,
# the weights mapped and the layouts probed for you. Writes docs/notebook-report.txt.
set -uo pipefail
cd "$(dirname "$0")/notebook"
command -v rnn-verify >/dev/null || { echo "rnn-verify not found: pip install -e '.[verify]'" >&2; exit 2; }
repro=$(mktemp -d)
{
  for module in my_rnn my_rnn_fixed; do
    echo "\$ rnn-verify --impl $module:MyRNN --profile dev"
    start=$(date +%s)
    rnn-verify --impl "$module:MyRNN" --profile dev --repro-dir "$repro" | sed "s|$repro/||g"
    echo "(exit status ${PIPESTATUS[0]}, $(($(date +%s) - start)) s on $(python -c 'from rnn_impl.testing.machine import cpu_kind; print(cpu_kind())' 2>/dev/null || uname -m))"
    echo
  done
} > ../../docs/notebook-report.txt
rm -rf "$repro"
echo "wrote docs/notebook-report.txt"
