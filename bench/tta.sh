#!/bin/sh
# Time to accuracy: LeNet on Fashion-MNIST with Caffe's lenet_solver settings
# (examples/lenet), sparknet against PyTorch in its best 2-core configuration
# (bench/peers/torch_tta.py), in one run. Then the
# acceptance checks of the training issue:
#   - sparknet reaches >= 0.89 test accuracy (tested every 500 iterations);
#   - a run stopped at iteration 5000 and resumed from its snapshot reproduces
#     the uninterrupted run's losses and test results bit for bit;
#   - Caffe's reference weights test at accuracy 0.8951 through 'sparknet test'
#     on the LMDB made by 'sparknet convert mnist'.
#
#   bench/tta.sh            # everything (about 10 minutes on 2 cores)
#   SKIP_TORCH=1 SKIP_RESUME=1 bench/tta.sh
#
# Run it on an otherwise idle machine: the figures are wall times. Output and
# logs go to bench/out/tta (override with OUT=dir).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-bench/out/tta}
threads=${THREADS:-2}
mkdir -p "$out"

./examples/lenet/prepare.sh >&2
solver=examples/lenet/lenet_solver.prototxt

# solver_copy NAME MAX_ITER: the example solver with snapshots in $out/NAME.
solver_copy() {
	sed -e "s#^snapshot_prefix:.*#snapshot_prefix: \"$out/$1\"#" \
		-e "s#^max_iter:.*#max_iter: $2#" "$solver" >"$out/$1_solver.prototxt"
	echo "$out/$1_solver.prototxt"
}

# summarize METRICS: the first test >= 0.89 (iteration, accuracy, wall time),
# the final accuracy and the training time per iteration.
summarize() {
	/usr/bin/python3 - "$1" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
tests = [r for r in rs if "accuracy" in r]
train = [r for r in rs if "lr" in r]
hit = next((r for r in tests if r["accuracy"] >= 0.89), None)
last = tests[-1]
# Training time per iteration: wall time minus the test passes (each test
# record's wall_s minus the record before it).
test_s = sum(t["wall_s"] - p["wall_s"] for p, t in zip([{"wall_s": 0}] + rs, rs) if "accuracy" in t)
per = (last["wall_s"] - test_s) / max(1, len(train)) * 1e3
if hit:
    print(f'first >= 0.89: iter {hit["iter"]} ({hit["accuracy"]:.4f}) at {hit["wall_s"]:.1f} s; '
          f'accuracy {last["accuracy"]:.4f} at {last["iter"]}; {per:.1f} ms/iter training')
else:
    print(f'never reached 0.89; accuracy {last["accuracy"]:.4f} at {last["iter"]}')
EOF
}

echo "== sparknet: LeNet, lenet_solver, $threads threads"
s=$(solver_copy full 10000)
bin/sparknet train -solver "$s" -threads "$threads" -metrics "$out/full_metrics.jsonl" 2>"$out/full.log"
ours=$(summarize "$out/full_metrics.jsonl")
echo "sparknet: $ours"

if [ -z "${SKIP_TORCH:-}" ]; then
	echo "== PyTorch: torch_tta.py 2 1 (OPENBLAS_NUM_THREADS=1)"
	tta=bench/peers/torch_tta.py
	OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$tta" 2 1 >"$out/torch.jsonl"
	torch=$(/usr/bin/python3 - "$out/torch.jsonl" <<'EOF'
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
s = rs[-1]
h = s["first_iter_acc_ge_0_89"]
if h:
    print(f'first >= 0.89: iter {h["iter"]} at {h["wall_s"]:.1f} s; accuracy {s["acc_at_10000"]:.4f} at 10000; '
          f'{s["train_ms_per_iter"]} ms/iter training')
else:
    print(f'never reached 0.89; accuracy {s["acc_at_10000"]:.4f} at 10000')
EOF
)
	echo "PyTorch:  $torch"
fi

if [ -z "${SKIP_RESUME:-}" ]; then
	echo "== stop at 5000, resume to 10000"
	p=$(solver_copy part 5000)
	bin/sparknet train -solver "$p" -threads "$threads" -metrics "$out/part_metrics.jsonl" 2>"$out/part.log"
	r=$(solver_copy part 10000)
	bin/sparknet train -solver "$r" -threads "$threads" -metrics "$out/part_metrics.jsonl" \
		-snapshot "$out/part_iter_5000.solverstate" 2>"$out/resume.log"
	/usr/bin/python3 - "$out/full_metrics.jsonl" "$out/part_metrics.jsonl" <<'EOF'
import json, sys
def load(p):
    rs = [json.loads(l) for l in open(p)]
    for r in rs:
        r.pop("wall_s")
    return rs
a, b = load(sys.argv[1]), load(sys.argv[2])
train = [r for r in a if "lr" in r]
same = a == b
print(f'resume: {len(b)} records, {"IDENTICAL" if same else "DIFFERENT"} to the uninterrupted run '
      f'({len(train)} training losses, {len(a) - len(train)} tests)')
if not same:
    for x, y in zip(a, b):
        if x != y:
            print(f'  first difference: {x} vs {y}')
            break
    sys.exit(1)
EOF
fi

echo "== Caffe's reference weights through 'sparknet test'"
bin/sparknet test -model examples/lenet/lenet_train_test.prototxt \
	-weights testdata/caffe/lenet-fashion/lenet_fmnist_iter_10000.caffemodel \
	-iterations 100 -threads "$threads" 2>"$out/test.log" | tee "$out/test.txt"
grep -q '^accuracy = 0.8951$' "$out/test.txt" && echo "fixture: accuracy 0.8951 as Caffe's" ||
	{ echo "fixture: accuracy differs from Caffe's 0.8951"; exit 1; }

echo
echo "== summary"
echo "sparknet: $ours"
[ -n "${torch:-}" ] && echo "PyTorch:  $torch"
exit 0
