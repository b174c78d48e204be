#!/usr/bin/env bash
# The test suite on a fresh clone (what CI runs): sets up .venv if needed with the test extras (pytest and
# TensorFlow, the converter's oracle), then runs pytest offline. Arguments go to pytest.
source "$(dirname "$0")/env.sh" "test,tf-oracle"
cd "$ROOT"
export HF_HUB_OFFLINE=1
exec python -m pytest -q "$@"
