#!/usr/bin/env bash
# Verify the seed notebook's MyRNN (ported in src/rnn_impl/testing/zoo/notebook.py) with its
# adapter: on all layouts, on unbatched input only, and once more after its hidden state is
# fixed (what its user would try next). Writes docs/notebook-report.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
command -v rnn-verify >/dev/null || { echo "rnn-verify not found: pip install -e '.[verify]'" >&2; exit 2; }
repro=$(mktemp -d)
impl=(--impl rnn_impl.testing.zoo.notebook:notebook_rnn --adapter rnn_impl.testing.zoo.notebook:NotebookAdapter)
common=(--device cpu --dtype float32 --profile ci --repro-dir "$repro")
{
  echo "\$ rnn-verify ${impl[*]} --device cpu --dtype float32 --profile ci"
  rnn-verify "${impl[@]}" "${common[@]}" | grep -v '^\[' | sed "s|$repro/||g"
  echo
  echo "\$ rnn-verify ${impl[*]} --device cpu --dtype float32 --profile ci --layout unbatched"
  rnn-verify "${impl[@]}" "${common[@]}" --layout unbatched | grep -v '^\[' | sed "s|$repro/||g"
  echo
  fixed=(--impl rnn_impl.testing.zoo.notebook:notebook_rnn_stacked_hidden --adapter rnn_impl.testing.zoo.notebook:NotebookAdapter)
  echo "\$ rnn-verify ${fixed[*]} --device cpu --dtype float32 --profile ci --layout batched --property shapes --property output_close"
  rnn-verify "${fixed[@]}" "${common[@]}" --layout batched --property shapes --property output_close | grep -v '^\[' | sed "s|$repro/||g"
} > docs/notebook-report.txt
rm -rf "$repro"
echo "wrote docs/notebook-report.txt"
