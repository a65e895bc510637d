#!/usr/bin/env bash
# Installs everything cnmlab needs on a fresh machine: system packages and a virtual environment.
# Sourced by ./run.sh and ./test.sh; safe to run again (it only does what is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PROFILE="${1:-run}"   # run | test

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip || need_pkgs+=(iproute2)
have iptables || need_pkgs+=(iptables)
have nft || need_pkgs+=(nftables)
have ping || need_pkgs+=(iputils-ping)
have nsenter || need_pkgs+=(util-linux)
have tcpdump || need_pkgs+=(tcpdump)
have tmux || need_pkgs+=(tmux)
if [ "$PROFILE" = test ]; then
  have chromium || need_pkgs+=(chromium)
  have chromedriver || need_pkgs+=(chromium-driver)
  have npm || need_pkgs+=(nodejs npm)   # JupyterHub's proxy (configurable-http-proxy) comes from npm
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing system packages: ${need_pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need_pkgs[*]} (install them: sudo apt-get install -y ${need_pkgs[*]})" >&2
    exit 1
  fi
fi

PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: cnmlab needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
shopt -s nullglob
stamp="$VENV/.cnmlab-$PROFILE-$(cat "$ROOT/pyproject.toml" "$ROOT"/examples/*/pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -e "$stamp" ]; then
  echo "setup: installing Python packages into $VENV" >&2
  extras=""
  [ "$PROFILE" = test ] && extras="[test]"
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT$extras" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$VENV/bin/python" -c 'import cnmlab' || { echo "setup: pip install failed" >&2; exit 1; }
  if [ "$PROFILE" = test ]; then
    for ex in "$ROOT"/examples/*/; do
      [ -f "$ex/pyproject.toml" ] && "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ex" 2>&1 | grep -v '^WARNING: Location' >&2 || true
    done
  fi
  touch "$stamp"
fi

# JupyterHub's proxy, for the classroom test: a node package, kept inside the venv (not global).
CHP="$VENV/node/bin/configurable-http-proxy"
if [ "$PROFILE" = test ] && [ ! -x "$CHP" ]; then
  echo "setup: installing configurable-http-proxy (npm) into $VENV/node" >&2
  npm install -g -s --prefix "$VENV/node" configurable-http-proxy@4 >/dev/null 2>&1 \
    || echo "setup: npm install configurable-http-proxy failed; the JupyterHub test will fail" >&2
fi
