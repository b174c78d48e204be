#!/usr/bin/env bash
# The main job on a fresh clone: sets up .venv if needed, then pre-trains the demo preset on the bundled
# corpus (about four minutes on 2 CPU cores). Arguments go to run_pretraining.py.
source "$(dirname "$0")/env.sh" ""
cd "$ROOT"
exec python run_pretraining.py "$@"
