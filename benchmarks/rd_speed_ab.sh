#!/usr/bin/env bash
# Interleaved A/B of the encoder's speed: this checkout's HEAD against REV, ROUNDS rounds of
# benchmarks/bench_rd_speed.py each (HEAD first in every round), each from its own git worktree
# (a snapshot: edits made while it runs do not leak in), on both cores. Runs minutes apart on a
# shared machine differ by more than most changes; alternating them is what makes two commits
# comparable.
#
#   bash benchmarks/rd_speed_ab.sh REV [ROUNDS] [POINTS...]
#       → benchmarks/results/rd_speed_ab_{head,REV}_round{N}_cpu.json
# An existing output stops it before any work, unless OVERWRITE is set (then those files are replaced).
# Clips: cup and vtest (data/opencv_samples, experiments/prepare_opencv_samples.sh) and carphone
# ($ACTDIFF_SHARED_CLIPS or ../shared/data/clips). POINTS default: rd6 (λ = 1.5, the slowest).
set -euo pipefail
rev=${1:?usage: rd_speed_ab.sh REV [ROUNDS] [POINTS...]}
rounds=${2:-2}
shift $(( $# < 2 ? $# : 2 ))
points=("${@:-rd6}")
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
shared=${ACTDIFF_SHARED_CLIPS:-$root/../shared/data/clips}
clips=("$root/data/opencv_samples/cup.mp4" "$root/data/opencv_samples/vtest.avi" "$shared/carphone_pristine.mp4")
for c in "${clips[@]}"; do [[ -f $c ]] || { echo "rd_speed_ab.sh: missing clip $c" >&2; exit 2; }; done
head=$(git -C "$root" rev-parse --short HEAD)
outputs=()
for round in $(seq 1 "$rounds"); do for tag in head "$rev"; do
  outputs+=("$root/benchmarks/results/rd_speed_ab_${tag}_round${round}_cpu.json")
done; done
for o in "${outputs[@]}"; do
  if [[ -e $o && -z ${OVERWRITE:-} ]]; then echo "rd_speed_ab.sh: output $o exists (OVERWRITE=1 replaces it)" >&2; exit 2; fi
done
other=$(git -C "$root" rev-parse --short "$rev^{commit}" 2>/dev/null) || { echo "rd_speed_ab.sh: unknown revision $rev" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/head" 2>/dev/null; git -C "$root" worktree remove --force "$tmp/rev" 2>/dev/null; rm -rf "$tmp"' EXIT
git -C "$root" worktree add -q --detach "$tmp/head" "$head"
git -C "$root" worktree add -q --detach "$tmp/rev" "$other"
rm -f "${outputs[@]}"  # checked above: either absent or OVERWRITE is set; the scripts of either revision then write anew
for round in $(seq 1 "$rounds"); do
  for tag in head "$rev"; do
    wt=$tmp/$([[ $tag == head ]] && echo head || echo rev)
    echo "== round $round: $tag ($([[ $tag == head ]] && echo "$head" || echo "$other")) $(date -u +%H:%M:%S)"
    (cd "$wt" && OMP_NUM_THREADS=2 PYTHONPATH="$wt" "$python" benchmarks/bench_rd_speed.py "${clips[@]}" \
      --threads 2 --points "${points[@]}" -o "$root/benchmarks/results/rd_speed_ab_${tag}_round${round}_cpu.json")
  done
done
