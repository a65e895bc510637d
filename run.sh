#!/usr/bin/env bash
# The main job: set up (first time only) and open cnmlab on the default lab.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
bash "$ROOT/scripts/setup.sh" run
exec "$ROOT/.venv/bin/cnmlab" "$@"
