#!/bin/sh
# Nets: forward+backward time of LeNet (batch 64), cifar10_quick (batch 100)
# and CaffeNet (batch 8), sparknet ('sparknet time') against PyTorch
# (bench/peers/torch_bench.py, Caffe's nets layer for layer) in one run, on
# the same threads, and the ratio (PyTorch ms / sparknet ms: > 1 is faster).
#
#   bench/nets.sh                  # all three nets, 2 threads
#   NETS="lenet" THREADS=1 bench/nets.sh
#
# PyTorch runs in the thread configuration that is best for each net on
# this machine (../shared/BENCHMARKS.md): torch THREADS threads with
# Debian's OpenBLAS pinned to 1 thread for LeNet and cifar10_quick, and to
# THREADS for CaffeNet, whose big fully-connected GEMMs run in OpenBLAS.
# PyTorch times a fixed input tensor; sparknet's bench nets draw a new
# gaussian batch in their DummyData layer at every forward (Caffe's
# semantics), so its figure here is the net's forward+backward less the
# data layer's time (both columns are printed).
#
# Needs python3-torch (set NETS_APT=1 to have scripts/deps.sh install it).
# Run it on an otherwise idle machine. Output: a table on stdout, logs in
# bench/out/nets (override with OUT=dir).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-bench/out/nets}
threads=${THREADS:-2}
nets=${NETS:-lenet cifar10_quick caffenet}
mkdir -p "$out"
if [ "${NETS_APT:-0}" = 1 ]; then
	./scripts/deps.sh python3-torch
fi

CGO_ENABLED=0 go build -trimpath -o bin/sparknet ./cmd/sparknet

printf '%-14s %6s %8s %14s %14s %12s %8s\n' net batch threads "sparknet ms" "(with data)" "PyTorch ms" ratio
for net in $nets; do
	case $net in
	lenet) batch=64 iters=100 ob=1 ;;
	cifar10_quick) batch=100 iters=30 ob=1 ;;
	caffenet) batch=8 iters=10 ob=$threads ;;
	*) echo "nets.sh: unknown net $net (want lenet, cifar10_quick or caffenet)" >&2; exit 2 ;;
	esac
	model=bench/prototxt/${net}_b${batch}_time.prototxt
	./bin/sparknet time -model "$model" -iterations "$iters" -threads "$threads" >"$out/$net.sparknet.log" 2>&1
	total=$(sed -n 's/^Average Forward-Backward: \([0-9.]*\) ms\./\1/p' "$out/$net.sparknet.log")
	data=$(awk '$1 == "data" && ($2 == "forward:" || $2 == "backward:") { s += $3 } END { print s + 0 }' "$out/$net.sparknet.log")
	ours=$(echo "$total $data" | awk '{ printf "%.2f", $1 - $2 }')
	OPENBLAS_NUM_THREADS=$ob /usr/bin/python3 bench/peers/torch_bench.py "$net" "$batch" "$threads" "$((iters / 2 > 5 ? iters / 2 : 5))" 5 >"$out/$net.torch.json" 2>"$out/$net.torch.err"
	torch=$(python3 -c 'import json,sys; print("%.2f" % json.load(open(sys.argv[1]))["fwdbwd"]["ms_median"])' "$out/$net.torch.json")
	ratio=$(echo "$torch $ours" | awk '{ printf "%.2f", $1 / $2 }')
	printf '%-14s %6d %8d %14s %14s %12s %7sx\n' "$net" "$batch" "$threads" "$ours" "$total" "$torch" "$ratio"
done
