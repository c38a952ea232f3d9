#!/usr/bin/env bash
# Input-pipeline throughput of a base revision vs the working tree, runs interleaved (A B A B ...)
# so that load on a shared machine hits both sides alike. Prints each run and the median ratio.
#
#   bash benchmarks/input_pipeline_ab.sh main 3 --batch_size 8 --num_batches 20
#
# Args: base revision (default main), runs per side (default 3), then arguments for
# benchmarks/input_pipeline_benchmark.py. Uses $PYTHON (default .venv/bin/python) and $DATA
# (default ../shared/data/coco_mini).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-main}; RUNS=${2:-3}; shift $(( $# < 2 ? $# : 2 ))
PY=${PYTHON:-.venv/bin/python}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"
DATA=${DATA:-$(cd .. && pwd)/shared/data/coco_mini}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
git archive "$BASE" | tar -x -C "$TMP"
"$PY" "$TMP/object_detection/protos/_compile.py" "$TMP/protos" "$TMP" >/dev/null
export TF_CPP_MIN_LOG_LEVEL=2
BENCH=$(pwd)/benchmarks/input_pipeline_benchmark.py  # the same script measures both sides
for i in $(seq "$RUNS"); do
  for side in base head; do
    root=$([ "$side" = base ] && echo "$TMP" || pwd)
    out=$(cd "$root" && PYTHONPATH="$root" PYTHONDONTWRITEBYTECODE=1 "$PY" "$BENCH" \
            --data_dir "$DATA" "$@" 2>/dev/null)
    rate=$(echo "$out" | grep "input pipeline:" | sed 's/.*: \([0-9.]*\) batches\/s.*/\1/')
    cpu=$(echo "$out" | grep "input pipeline cpu:" | sed 's/.*: \([0-9.]*\) ms.*/\1/')
    echo "$side run $i: $rate batches/s, $cpu ms CPU per image"
    echo "$side $rate $cpu" >> "$TMP/rates"
  done
done
"$PY" - "$TMP/rates" <<'PYEOF'
import statistics, sys
rates, cpus = {"base": [], "head": []}, {"base": [], "head": []}
for line in open(sys.argv[1]):
  side, rate, cpu = line.split()
  rates[side].append(float(rate))
  cpus[side].append(float(cpu))
b, h = statistics.median(rates["base"]), statistics.median(rates["head"])
cb, ch = statistics.median(cpus["base"]), statistics.median(cpus["head"])
print(f"median: base {b:.3f}, head {h:.3f} batches/s; head/base throughput = {h / b:.3f}")
print(f"median CPU per image: base {cb:.1f}, head {ch:.1f} ms; head/base = {ch / cb:.3f}")
PYEOF
