#!/usr/bin/env bash
# How often does check-regressions cry wolf on this machine, and does it catch a 1.25x slowdown?
#
#   N unchanged quick runs of perf/ (both phases) at HEAD         -> $STUDY_DIR/base-i.json
#   N steady-only runs of a scratch commit whose optax_while sleeps a quarter of each solve
#   (1.25x slower; the commit lives only in a temporary worktree) -> $STUDY_DIR/slow-i.json
#   check-regressions on consecutive unchanged pairs (false alarms) and on (base-i, slow-i)
#   (detection), each without and with --confirm.              -> $STUDY_DIR/summary.md
#
# Usage: N=5 STUDY_DIR=.study bash scripts/noise_study.sh     (about 25 minutes for N=5 on 2 cores)
set -euo pipefail
n=${N:-5}
dir=$(mkdir -p "${STUDY_DIR:-.study}" && cd "${STUDY_DIR:-.study}" && pwd)
repo=$(git rev-parse --show-toplevel)
cd "$repo"
base_rev=$(git rev-parse HEAD)

scratch=$(mktemp -d)
trap 'git worktree remove --force "$scratch/slow" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
git worktree add -q --detach "$scratch/slow" "$base_rev"
python - "$scratch/slow/lbfgs_impl/solvers/optax_lbfgs.py" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
line = "        return jax.block_until_ready(self._solve(self.problem.x0, self.problem.data))\n"
slow = (
    "        t0 = time.perf_counter()\n"
    "        out = jax.block_until_ready(self._solve(self.problem.x0, self.problem.data))\n"
    "        time.sleep(0.25 * (time.perf_counter() - t0))\n"
    "        return out\n"
)
assert text.count(line) == 1, "optax_while run() not found"
open(path, "w").write(text.replace(line, slow))
PY
git -C "$scratch/slow" -c user.name=study -c user.email=study@localhost commit -qam "study: optax_while 1.25x slower"
slow_rev=$(git -C "$scratch/slow" rev-parse HEAD)

for i in $(seq 1 "$n"); do
    start=$(date +%s)
    python -m pytest perf -q -p no:cacheprovider --benchmark-save-data \
        --benchmark-json "$dir/base-$i.json" > "$dir/base-$i.log" 2>&1
    echo "base-$i: $(( $(date +%s) - start )) s" | tee -a "$dir/walltimes.txt"
    (cd "$scratch/slow" && PYTHONPATH="$scratch/slow" python -m pytest perf -q -p no:cacheprovider \
        -k test_steady --benchmark-save-data --benchmark-json "$dir/slow-$i.json" > "$dir/slow-$i.log" 2>&1)
done

check() {  # name baseline current [options]: prints "exit flagged-benchmarks"
    local name=$1 a=$2 b=$3
    shift 3
    local rc=0
    lbfgs-bench check-regressions "$a" "$b" --report "$dir/$name.md" "$@" > /dev/null 2> "$dir/$name.err" || rc=$?
    local flagged
    flagged=$(sed -n '/^## Regressions/,/^## /p' "$dir/$name.md" | grep -o 'test_[a-z_]*\[[^]]*\]` | [a-z_]*' | tr '\n' ' ')
    echo "$rc ${flagged:-none}"
}

{
    echo "# noise study: HEAD $base_rev, slowed $slow_rev, N=$n"
    echo
    echo "## unchanged code, consecutive runs (false alarms)"
    for i in $(seq 1 $((n - 1))); do
        echo "- base-$i vs base-$((i + 1)): plain: $(check "fa-$i" "$dir/base-$i.json" "$dir/base-$((i + 1)).json")"
        echo "  confirmed: $(check "fa-$i-confirm" "$dir/base-$i.json" "$dir/base-$((i + 1)).json" --confirm)"
    done
    echo
    echo "## optax_while 1.25x slower (detection)"
    for i in $(seq 1 "$n"); do
        echo "- base-$i vs slow-$i: plain: $(check "det-$i" "$dir/base-$i.json" "$dir/slow-$i.json")"
        echo "  confirmed: $(check "det-$i-confirm" "$dir/base-$i.json" "$dir/slow-$i.json" --confirm \
            --baseline-rev "$base_rev" --current-rev "$slow_rev")"
    done
} | tee "$dir/summary.md"
