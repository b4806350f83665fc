#!/usr/bin/env bash
# Install what `make run` / `make test` need, once: Debian packages that are missing and
# the Python venv (rebuilt only when pyproject.toml changes). Idempotent and quiet when
# everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

purpose="${1:-run}"
run_pkgs=(mmdebstrap espeak-ng sox graphviz)
test_pkgs=(redis-server postgresql baresip-core sip-tester docker-compose chromium pocketsphinx-testdata)

pkgs=("${run_pkgs[@]}")
if [[ "$purpose" == test ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: need Debian packages ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts these as system services on install; the project starts its own.
  for svc in redis-server postgresql; do
    if [[ " ${missing[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null; then
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    fi
  done
fi

stamp=".venv/.installed-$(sha1sum pyproject.toml | cut -c1-16)"
if [[ ! -f "$stamp" ]]; then
  echo "bootstrap: installing Python dependencies into .venv"
  [[ -x .venv/bin/python ]] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
