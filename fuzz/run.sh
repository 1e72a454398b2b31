#!/usr/bin/env bash
# Bounded fuzzing of the command-line entry for CI: fuzz/run.sh [SECONDS] (default 60).
# The Python is $PYTHON if set, else the checkout's .venv/bin/python if present, else python3.
# Seeds: every document of the fixture corpus and the hostile cases of fuzz/seeds.py; new
# inputs and crash artifacts go to a temporary directory (printed, kept only on failure).
# Exit status: non-zero on any crash (a contract violation, an exception, a timeout of one
# input, too much memory); the crashing input is in the artifacts directory.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/velero-postrender-fuzz.XXXXXX")"
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
"$PYTHON" fuzz/seeds.py "$work/seeds"
echo "fuzz: ${seconds}s over the CLI entry; corpus and artifacts in $work"
FUZZ_WORKDIR="$work/files" "$PYTHON" fuzz/fuzz_cli.py -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
  -dict=fuzz/yaml.dict -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus" "$work/seeds"
rm -rf "$work"
