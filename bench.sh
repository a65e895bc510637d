#!/usr/bin/env bash
# The benchmark suite: set up as ./test.sh does (first time only), then run it.
#   ./bench.sh [--quick] [--n 10,100,500] [--with-1000] [--runs R]   (results: benchmarks/results/latest.json)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
bash "$ROOT/scripts/setup.sh" test
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m benchmarks "$@"
