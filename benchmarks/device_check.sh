#!/usr/bin/env bash
# The device check of a lent GPU machine (issue: solver scale): one short run, under 5 minutes, that prints
# paths/s of batched sweeps at vmap widths 1, 16, 256 and 1,024 (two regions and the 11 counties) and the
# one-year solve time (benchmarks/bench_device.py). Rows past the time budget are skipped and named.
#
#   benchmarks/device_check.sh            # PYTHON=... to choose the interpreter (default: .venv/bin/python, python3)
#   DEVICE_CHECK_BUDGET=270 WIDTHS=1,16,256,1024 LINEAR=krylov benchmarks/device_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
"$PY" - <<'PYEOF'
import jax
print("jax", jax.__version__, "backend", jax.default_backend(), "devices", jax.devices())
if jax.default_backend() == "cpu":
    print("note: no accelerator visible to JAX (install jax[cuda12] for an NVIDIA GPU); the check runs on the CPU")
PYEOF
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" benchmarks/bench_device.py --widths "${WIDTHS:-1,16,256,1024}" \
  --aggregations "${AGGREGATIONS:-two_regions,counties}" --budget "${DEVICE_CHECK_BUDGET:-270}" \
  --linear "${LINEAR:-dense}"
