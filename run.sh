#!/usr/bin/env bash
# The README's two commands:
#   bash run.sh demo   # set-up (first time) + the end-to-end DeepMAC demo on generated data
#   bash run.sh test   # set-up (first time) + the whole test suite
# Set-up: a virtualenv in .venv with the package installed editable (pyproject.toml pins every
# dependency; the .proto schema is compiled by the install, no manual protoc step).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

setup() {
  if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
  fi
  local stamp=.venv/.deepmac-installed want
  want=$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[test]"
    echo "$want" > "$stamp"
  fi
}

cmd=${1:-help}
shift || true
case "$cmd" in
  setup) setup ;;
  demo) setup; exec .venv/bin/python -m object_detection.demo "$@" ;;
  test) setup; exec .venv/bin/python -m pytest -n 2 -q "$@" ;;
  *) echo "usage: bash run.sh {demo|test|setup} [args]"; exit 2 ;;
esac
