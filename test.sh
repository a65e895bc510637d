#!/usr/bin/env bash
# The test suite: set up (first time only), then run every test on the real kernel.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
bash "$ROOT/scripts/setup.sh" test
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
