#!/bin/sh
# Acceptance checks of the parallel scheme (issue 6) on LeNet / Fashion-MNIST
# (examples/lenet), each printing its verdict:
#
#   faults   a K=4, tau=10 run with a worker failing (a recovered panic) in
#            10% of the rounds ends within 0.5 accuracy points of the same
#            run without faults;
#   resume   the same run killed with SIGKILL after its iteration-1000
#            checkpoint and resumed with -snapshot ends with the same
#            weights (cmp of the final .caffemodel) as the uninterrupted run;
#   k2       time to 0.89 test accuracy (tests every 500 iterations, as
#            BENCHMARKS.md): one solver with 2 threads against K=2 workers
#            with 1 thread each (TAU, default 10), wall time including tests.
#
#   bench/scaling_acceptance.sh [faults] [resume] [k2]     (default: all)
#
# Environment: BIN (the sparknet binary, default bin/sparknet), THREADS (default 1 for faults/resume, so that it can share
# the machine), ITERS (default 2000), TAU (default 10), OUT (default
# bench/out/scaling_acceptance). Timings (k2) need an otherwise idle machine.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-bench/out/scaling_acceptance}
iters=${ITERS:-2000}
threads=${THREADS:-1}
tau=${TAU:-10}
mkdir -p "$out"
checks=${*:-faults resume k2}

./examples/lenet/prepare.sh >&2
bin=${BIN:-bin/sparknet}
solver=examples/lenet/lenet_solver.prototxt

# solver_copy NAME MAX_ITER SNAPSHOT TEST_INTERVAL: the example solver
# writing to $out/NAME.
solver_copy() {
	mkdir -p "$out/$1"
	sed -e "s#^snapshot_prefix:.*#snapshot_prefix: \"$out/$1/lenet\"#" \
		-e "s#^max_iter:.*#max_iter: $2#" -e "s#^snapshot:.*#snapshot: $3#" \
		-e "s#^test_interval:.*#test_interval: $4#" -e "s#^display:.*#display: 500#" \
		"$solver" >"$out/$1/solver.prototxt"
	rm -f "$out/$1"/lenet_iter_* "$out/$1"/lenet_metrics.jsonl
	echo "$out/$1/solver.prototxt"
}

# last_accuracy METRICS: the last test accuracy.
last_accuracy() {
	grep '"accuracy"' "$1" | tail -1 | sed 's/.*"accuracy":\([0-9.e-]*\).*/\1/'
}

# first_hit METRICS TARGET: "iter wall_s accuracy" of the first test >= TARGET.
first_hit() {
	awk -v t="$2" -F'[:,}]' '/"accuracy"/ {
		for (i = 1; i < NF; i++) { if ($i ~ /"iter"$/) it = $(i+1); if ($i == "\"wall_s\"") w = $(i+1); if ($i == "\"accuracy\"") a = $(i+1) }
		if (a + 0 >= t + 0) { print it, w, a; exit } }' "$1"
}

par="-workers 4 -tau 10 -threads $threads"

clean=""
run_clean() {
	[ -n "$clean" ] && return
	s=$(solver_copy clean "$iters" 1000 "$iters")
	echo "== K=4 tau=10, $iters iterations, no faults" >&2
	$bin train -solver "$s" $par >"$out/clean/log" 2>&1
	clean=$out/clean
}

for check in $checks; do
	case $check in
	faults)
		run_clean
		s=$(solver_copy faults "$iters" 0 "$iters")
		echo "== K=4 tau=10, $iters iterations, a worker failing in 10% of the rounds" >&2
		$bin train -solver "$s" $par -fault-rate 0.1 -fault-seed 1 >"$out/faults/log" 2>&1
		a=$(last_accuracy "$clean/lenet_metrics.jsonl")
		b=$(last_accuracy "$out/faults/lenet_metrics.jsonl")
		n=$(grep -c 'left out' "$out/faults/log" || true)
		r=$(grep -c '^Round .*workers' "$out/faults/log" || true)
		awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN {
			d = (b - a) * 100; if (d < 0) d = -d
			printf "faults: %d worker failures; final accuracy %.4f without faults, %.4f with: %.2f points apart: %s\n", n, a, b, d, (d <= 0.5 ? "PASS" : "FAIL") }'
		;;
	resume)
		run_clean
		s=$(solver_copy killed "$iters" 1000 "$iters")
		echo "== the same run, killed after its iteration-1000 checkpoint, resumed" >&2
		$bin train -solver "$s" $par >"$out/killed/log" 2>&1 &
		pid=$!
		while [ ! -f "$out/killed/lenet_iter_1000.solverstate" ]; do
			if ! kill -0 $pid 2>/dev/null; then echo "resume: the run ended before its checkpoint" >&2; exit 1; fi
			sleep 0.2
		done
		kill -9 $pid
		wait $pid 2>/dev/null || true
		killed_at=$(grep '^Iteration [0-9]* (' "$out/killed/log" | tail -1 | cut -d' ' -f2)
		$bin train -solver "$s" $par -snapshot "$out/killed/lenet_iter_1000.solverstate" >"$out/killed/resume.log" 2>&1
		if cmp -s "$clean/lenet_iter_$iters.caffemodel" "$out/killed/lenet_iter_$iters.caffemodel"; then
			v=PASS
		else
			v=FAIL
		fi
		echo "resume: killed after iteration ${killed_at:-?} (last display; checkpoint at 1000), resumed to $iters: final weights identical to the uninterrupted run: $v"
		;;
	k2)
		target=0.89
		s1=$(solver_copy single 10000 0 500)
		s2=$(solver_copy k2 10000 0 500)
		echo "== time to $target: one solver, 2 threads" >&2
		timeout 900 $bin train -solver "$s1" -threads 2 >"$out/single/log" 2>&1 &
		p1=$!
		while [ -z "$(first_hit "$out/single/lenet_metrics.jsonl" $target 2>/dev/null)" ] && kill -0 $p1 2>/dev/null; do sleep 1; done
		kill $p1 2>/dev/null || true
		wait $p1 2>/dev/null || true
		echo "== time to $target: K=2 workers x 1 thread, tau $tau" >&2
		timeout 900 $bin train -solver "$s2" -threads 2 -workers 2 -tau "$tau" >"$out/k2/log" 2>&1 &
		p2=$!
		while [ -z "$(first_hit "$out/k2/lenet_metrics.jsonl" $target 2>/dev/null)" ] && kill -0 $p2 2>/dev/null; do sleep 1; done
		kill $p2 2>/dev/null || true
		wait $p2 2>/dev/null || true
		h1=$(first_hit "$out/single/lenet_metrics.jsonl" $target)
		h2=$(first_hit "$out/k2/lenet_metrics.jsonl" $target)
		echo "k2: first test >= $target (iter wall_s accuracy): single 2 threads: ${h1:-not reached}; K=2 tau=$tau: ${h2:-not reached}"
		;;
	*)
		echo "unknown check $check (faults, resume, k2)" >&2
		exit 2
		;;
	esac
done
