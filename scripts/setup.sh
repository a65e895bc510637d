#!/usr/bin/env bash
# Installs everything cnmlab needs on a fresh machine: system packages and a virtual environment.
# Sourced by ./run.sh and ./test.sh; safe to run again (it only does what is missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PROFILE="${1:-run}"   # run | test

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
distro_python() { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
# The interpreter of the venv: $PYTHON, else the distribution's python3 when it is 3.11 or newer,
# else python3 on PATH. The distribution's first: Debian, Ubuntu and Fedora build theirs with
# profile-guided optimization and LTO, and a pyenv or source build by default is not; on the
# latter every cnmlab process (engine, CLI, TUI, tests) spends 20-25% more CPU
# (docs/benchmarks.md, history). An existing .venv is kept: remove it to make it again.
pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; elif distro_python; then echo /usr/bin/python3; else echo python3; fi
}
have ip || need_pkgs+=(iproute2)
have iptables || need_pkgs+=(iptables)
have nft || need_pkgs+=(nftables)
have ping || need_pkgs+=(iputils-ping)
have nsenter || need_pkgs+=(util-linux)
have tcpdump || need_pkgs+=(tcpdump)
have tmux || need_pkgs+=(tmux)
# alpine's tools (ping, nslookup, wget, nc, ip ...) for processes in containers: busybox's applets
[ -x /bin/busybox ] || need_pkgs+=(busybox-static)
# The distribution's python3 (see pick_python) makes venvs only with its venv package: needed
# only to make the venv, and only with that interpreter.
if [ ! -x "$VENV/bin/python" ] && [ "$(pick_python)" = /usr/bin/python3 ] \
    && ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then need_pkgs+=(python3-venv); fi
if [ "$PROFILE" = test ]; then
  have chromium || need_pkgs+=(chromium)
  have chromedriver || need_pkgs+=(chromium-driver)
  have npm || need_pkgs+=(nodejs npm)   # JupyterHub's proxy (configurable-http-proxy) comes from npm
fi
# Docker's own clients, driven against cnmlab's engine socket: the docker CLI (Debian's docker.io;
# its dockerd is never started) and compose v1 (Debian's, on Debian's python3-docker).
if [ "$PROFILE" = test ]; then
  [ -x /usr/bin/docker ] || need_pkgs+=(docker.io)
  have docker-compose || need_pkgs+=(docker-compose)
fi
# apt's locks (fcntl record locks, as apt and dpkg take them); CNMLAB_APT_LOCKS replaces the list in tests
APT_LOCKS="${CNMLAB_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock}"
APT_WAIT=120
apt_locked() {
  have python3 || return 1
  python3 - $APT_LOCKS <<'PY'
import fcntl, sys
for path in sys.argv[1:]:
    try:
        with open(path, "a") as lock:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        continue
    except OSError:
        sys.exit(0)
sys.exit(1)
PY
}
apt_get() {  # wait for another apt-get or dpkg (another install, unattended-upgrades) instead of failing at once
  if apt_locked; then
    echo "setup: another apt-get or dpkg holds the package lock; waiting up to ${APT_WAIT} s for it to finish" >&2
    for _ in $(seq "$APT_WAIT"); do apt_locked || break; sleep 1; done
  fi
  apt-get -o DPkg::Lock::Timeout="$APT_WAIT" "$@"
}

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing system packages: ${need_pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt_get update -qq >/dev/null
    # No package may start a service here (docker.io would start dockerd, which rewrites the
    # machine's iptables): invoke-rc.d asks policy-rc.d, and 101 means "not allowed".
    no_services=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
      no_services=1
    fi
    apt_get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
    [ -z "$no_services" ] || rm -f /usr/sbin/policy-rc.d
  else
    echo "setup: missing system packages: ${need_pkgs[*]} (install them: sudo apt-get install -y ${need_pkgs[*]})" >&2
    exit 1
  fi
fi

PY="$(pick_python)"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: cnmlab needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
shopt -s nullglob
# One install marker: the dependencies' hash, then the profile installed. The test profile is a
# superset of run (cnmlab plus the test extras and examples), so it satisfies both.
stamp="$VENV/.cnmlab-installed"
deps="$(cat "$ROOT/pyproject.toml" "$ROOT"/examples/*/pyproject.toml | sha1sum | cut -c1-12)"
installed=""
[ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$deps" ] && installed="$(sed -n 2p "$stamp")"
if [ "$installed" != test ] && [ "$installed" != "$PROFILE" ]; then
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
  rm -f "$VENV"/.cnmlab-run-* "$VENV"/.cnmlab-test-*  # the per-profile markers of earlier versions
  printf '%s\n%s\n' "$deps" "$PROFILE" > "$stamp"
fi

# JupyterHub's proxy, for the classroom test: a node package, kept inside the venv (not global).
CHP="$VENV/node/bin/configurable-http-proxy"
if [ "$PROFILE" = test ] && [ ! -x "$CHP" ]; then
  echo "setup: installing configurable-http-proxy (npm) into $VENV/node" >&2
  npm install -g -s --prefix "$VENV/node" configurable-http-proxy@4 >/dev/null 2>&1 \
    || echo "setup: npm install configurable-http-proxy failed; the JupyterHub test will fail" >&2
fi
