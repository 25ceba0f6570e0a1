#!/usr/bin/env bash
# Diffusion-decoder speed when two jobs share the machine's cores (benchmarks/bench_decoder.py):
# one job alone, then two at once with OMP_NUM_THREADS=$(nproc) each (torch's default: every core),
# with OMP_WAIT_POLICY=PASSIVE, and with the cores split between them (and one alone with PASSIVE: its cost).
# Usage: benchmarks/bench_shared_cores.sh OUT_DIR   (writes OUT_DIR/{alone,pair_*}_*.json; refuses an existing OUT_DIR)
set -euo pipefail
usage="usage: benchmarks/bench_shared_cores.sh OUT_DIR   (run from the repository root)"
case "${1:-}" in -h|--help) echo "$usage"; exit 0;; "") echo "$usage" >&2; exit 2;; esac
out=$1
[ -e "$out" ] && { echo "error: $out exists" >&2; exit 2; }
mkdir -p "$out"
py=${PYTHON:-.venv/bin/python}
n=$(nproc)
half=$(( n / 2 > 0 ? n / 2 : 1 ))
OMP_NUM_THREADS=$n "$py" benchmarks/bench_decoder.py --out "$out/alone.json" > "$out/alone.log" 2>&1
OMP_NUM_THREADS=$n OMP_WAIT_POLICY=PASSIVE "$py" benchmarks/bench_decoder.py --out "$out/alone_passive.json" \
    > "$out/alone_passive.log" 2>&1
pair() {  # name, env assignments for both jobs
  local name=$1; shift
  env "$@" "$py" benchmarks/bench_decoder.py --out "$out/${name}_a.json" > "$out/${name}_a.log" 2>&1 &
  env "$@" "$py" benchmarks/bench_decoder.py --out "$out/${name}_b.json" > "$out/${name}_b.log" 2>&1
  wait
}
pair pair_all_cores OMP_NUM_THREADS=$n
pair pair_passive OMP_NUM_THREADS=$n OMP_WAIT_POLICY=PASSIVE
pair pair_split OMP_NUM_THREADS=$half
"$py" - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for f in sorted(out.glob("*.json")):
    d = json.loads(f.read_text())
    fps = {k: round(v["frames_per_second"], 2) for k, v in d["decoders"].items()}
    print(f"{f.stem:>20}: denoising step {d['step_seconds']:.3f} s, frames/s {fps}")
PY
