# Sourced by scripts/demo.sh and scripts/test.sh: activate .venv, creating it and installing what is missing
# (torch, then this package with the extras named in $1, e.g. "test,tf-oracle"). Needs only Python 3.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$ROOT/.venv/bin/python" ]; then
    echo "Creating $ROOT/.venv"
    "$PYTHON" -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/python" -m pip install -q --upgrade pip
fi
. "$ROOT/.venv/bin/activate"
if ! python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        echo "Installing torch (CUDA build)"
        python -m pip install -q torch
    elif python -c "import socket; socket.create_connection(('download.pytorch.org', 443), timeout=5)" 2>/dev/null; then
        echo "Installing torch (CPU build, from PyTorch's index: PyPI's default build carries CUDA, several GB)"
        python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
    else  # no route to PyTorch's index (an offline mirror): the release this project is tested with
        echo "Installing torch==2.13.0"
        python -m pip install -q "torch==2.13.0"
    fi
fi
EXTRAS="${1:-}"
STAMP="$ROOT/.venv/.electra-hf-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
    echo "Installing electra-hf${EXTRAS:+ with [$EXTRAS]}"
    python -m pip install -q -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    touch "$STAMP"
fi
