#!/usr/bin/env bash
# Verify the seed notebook's MyRNN as it was written (examples/notebook/my_rnn.py) and with its
# bugs fixed (my_rnn_fixed.py), each with no flag but the profile: the constructor is bound,
# the weights mapped and the layouts probed for you. Writes docs/notebook-report.txt and the
# README's excerpt of it.
set -uo pipefail
cd "$(dirname "$0")/notebook"
command -v rnn-verify >/dev/null || { echo "rnn-verify not found: pip install -e '.[verify]'" >&2; exit 2; }
repro=$(mktemp -d)
{
  for module in my_rnn my_rnn_fixed; do
    echo "\$ rnn-verify --impl $module:MyRNN --profile dev"
    start=$(date +%s)
    rnn-verify --impl "$module:MyRNN" --profile dev --repro-dir "$repro" | sed "s|$repro/|rnn-verify-reproducers/|g"
    echo "(exit status ${PIPESTATUS[0]}, $(($(date +%s) - start)) s on $(python -c 'from rnn_impl.testing.machine import cpu_kind; print(cpu_kind())' 2>/dev/null || uname -m))"
    echo
  done
} > ../../docs/notebook-report.txt
rm -rf "$repro"
echo "wrote docs/notebook-report.txt"
# the README's excerpt: the start of the first run, its first failure block, its verdict
cd ../..
python - <<'PY'
import re
from pathlib import Path

report = Path("docs/notebook-report.txt").read_text().split("\n\n$ ")[0].splitlines()
start = [line for line in report[:30] if not line.startswith("    ")][:21]
block_at = next(i for i, line in enumerate(report) if line.startswith("FAIL "))
block = report[block_at : report.index("", block_at)]
from rnn_impl.testing.tiers import TIERS

verdict = [line for line in report if line.startswith("  ") and ": " in line and line.split(":")[0].strip() in TIERS]
verdict += [line for line in report if " does not conform" in line or " conforms" in line][-1:]
excerpt = "\n".join(["```", *start, "...", *block, "...", *verdict, "```"])
readme = Path("README.md")
text = readme.read_text()
new = re.sub(r"(<!-- notebook:start -->\n).*?(\n<!-- notebook:end -->)", lambda m: m.group(1) + excerpt + m.group(2), text, flags=re.S)
readme.write_text(new)
print("updated README.md's excerpt")
PY
