#!/bin/sh
# cluster.sh runs the NATS engine across several "hosts" on this machine:
# network namespaces joined by veth pairs on a bridge, with tc netem delay on
# every host's link, for each round-trip time in RTTS. The driver (with its
# embedded NATS server) runs in one namespace, K workers in K others. For
# each RTT it trains LeNet on Fashion-MNIST to TARGET accuracy (or MAXITER
# iterations) and prints the per-round overhead (round time minus the
# slowest worker's compute), the bytes per round (the broadcast the workers
# read: the weights, or with a lossy -compress their update; the deltas;
# the partition states stored in the background) and the time to accuracy.
#
#   sudo bench/cluster.sh                      # RTTS="0 10 100" K=3 TAU=20
#   RTTS="0 50" K=4 TAU=50 COMPRESS=int8 bench/cluster.sh
#
# Needs root (ip netns, tc), iproute2, python3. Results and logs go to
# bench/out/cluster/. Namespaces and the bridge are removed on exit.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
RTTS=${RTTS:-"0 10 100"}
K=${K:-3}
TAU=${TAU:-20}
TARGET=${TARGET:-0.80}
MAXITER=${MAXITER:-400}
COMPRESS=${COMPRESS:-none}
THREADS=${THREADS:-1}
TOKEN=cluster-$$-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
out=bench/out/cluster
mkdir -p "$out"

if [ "$(id -u)" != 0 ]; then
	echo "cluster.sh: needs root for ip netns and tc" >&2
	exit 1
fi
for tool in ip tc python3; do
	command -v "$tool" >/dev/null || { echo "cluster.sh: $tool not found (apt-get install iproute2 python3)" >&2; exit 1; }
done

# Data and binary (prepare.sh builds bin/sparknet and converts the LMDBs).
./examples/lenet/prepare.sh >/dev/null
bin=$root/bin/sparknet

# Latency: tc netem on every host's link where the kernel has sch_netem;
# otherwise (e.g. a VM kernel without it) a TCP proxy in every worker's
# namespace that delays each direction by RTT/2 (bench/clusterproxy).
ip netns add sn-probe
if ip netns exec sn-probe tc qdisc add dev lo root netem delay 1ms 2>/dev/null; then
	delay=netem
else
	delay=proxy
	CGO_ENABLED=0 go build -o "$root/bin/clusterproxy" ./bench/clusterproxy
fi
ip netns del sn-probe
echo "latency by $delay; K=$K workers, tau $TAU, -compress $COMPRESS, $THREADS thread(s) per process"

# Hosts: sn-drv at 10.77.0.1, sn-w1.. at 10.77.0.11.., on bridge sn-br.
hosts="drv"
i=1
while [ "$i" -le "$K" ]; do hosts="$hosts w$i"; i=$((i + 1)); done
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for h in $hosts; do
		ip link del "b-$h" 2>/dev/null || true
		ip netns del "sn-$h" 2>/dev/null || true
	done
	ip link del sn-br 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cleanup
ip link add sn-br type bridge
ip link set sn-br up
n=0
for h in $hosts; do
	ns=sn-$h
	if [ "$h" = drv ]; then addr=10.77.0.1; else addr=10.77.0.$((10 + ${h#w})); fi
	ip netns add "$ns"
	ip link add "v-$h" type veth peer name "b-$h"
	ip link set "v-$h" netns "$ns"
	ip link set "b-$h" master sn-br up
	ip -n "$ns" addr add "$addr/24" dev "v-$h"
	ip -n "$ns" link set "v-$h" up
	ip -n "$ns" link set lo up
	n=$((n + 1))
done

net=$root/$out/net.prototxt
sed -e "s#examples/lenet/fmnist_train_lmdb#$root/examples/lenet/fmnist_train_lmdb#" \
	-e "s#examples/lenet/fmnist_test_lmdb#$root/examples/lenet/fmnist_test_lmdb#" \
	examples/lenet/lenet_train_test.prototxt >"$net"

printf '%-8s %-7s %10s %11s %12s %12s %12s %12s %12s %10s %12s\n' "RTT" "rounds" "round ms" "compute ms" "overhead ms" "bcast B/rd" "delta B/rd" "state B/rd" "wire B/rd" "final acc" "t->$TARGET s"
for rtt in $RTTS; do
	half=$(python3 -c "print($rtt / 2)")
	if [ "$delay" = netem ]; then
		for h in $hosts; do
			if [ "$rtt" = 0 ]; then
				ip netns exec "sn-$h" tc qdisc del dev "v-$h" root 2>/dev/null || true
			else
				ip netns exec "sn-$h" tc qdisc replace dev "v-$h" root netem delay "${half}ms"
			fi
		done
	fi
	dir=$root/$out/rtt$rtt
	rm -rf "$dir"
	mkdir -p "$dir"
	cat >"$dir/solver.prototxt" <<EOF
net: "$net"
test_iter: 20
test_interval: $((TAU * 5))
base_lr: 0.01
momentum: 0.9
weight_decay: 0.0005
lr_policy: "inv"
gamma: 0.0001
power: 0.75
display: 0
max_iter: $MAXITER
snapshot_prefix: "$dir/lenet"
snapshot_after_train: false
random_seed: 1701
EOF
	ip netns exec sn-drv "$bin" train -solver "$dir/solver.prototxt" -workers "$K" -tau "$TAU" \
		-compress "$COMPRESS" -engine nats -nats-listen 10.77.0.1:4222 -nats-token "$TOKEN" \
		-threads "$THREADS" >"$dir/driver.log" 2>&1 &
	drv=$!
	pids="$drv"
	# Workers join once the driver's server listens.
	tries=0
	until grep -qs "listening at" "$dir/driver.log"; do
		tries=$((tries + 1))
		if [ "$tries" -gt 300 ] || ! kill -0 "$drv" 2>/dev/null; then
			echo "cluster.sh: the driver did not start; see $dir/driver.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	for h in $hosts; do
		[ "$h" = drv ] && continue
		url=nats://10.77.0.1:4222
		if [ "$delay" = proxy ]; then
			ip netns exec "sn-$h" "$root/bin/clusterproxy" -listen 127.0.0.1:4222 -to 10.77.0.1:4222 \
				-delay "${half}ms" 2>>"$dir/proxy-$h.log" &
			pids="$pids $!"
			url=nats://127.0.0.1:4222
		fi
		SPARKNET_NATS_TOKEN=$TOKEN ip netns exec "sn-$h" "$bin" worker -nats "$url" \
			-threads "$THREADS" -name "$h" -quiet -cache "$dir/cache-$h" >"$dir/worker-$h.log" 2>&1 &
		pids="$pids $!"
	done
	status=0
	wait "$drv" || status=$?
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	pids=""
	if [ "$status" != 0 ]; then
		echo "cluster.sh: the driver failed at RTT $rtt ms; see $dir/driver.log" >&2
		exit 1
	fi
	python3 - "$dir" "$rtt" "$TARGET" <<'EOF'
import json, statistics, sys
d, rtt, target = sys.argv[1], sys.argv[2], float(sys.argv[3])
rounds = [json.loads(l) for l in open(d + "/lenet_nats_rounds.jsonl")]
steady = rounds[1:] or rounds
med = lambda k: statistics.median(r[k] for r in steady) * 1e3
mean = lambda k: statistics.mean(r.get(k, 0) for r in steady)
bcast, delta, state = mean("weights_fetched_bytes"), mean("delta_bytes"), mean("state_stored_bytes")
# The server's critical-path traffic: the broadcast in once and out to each
# worker (the weights whole, stored once when a worker asked, included),
# the deltas in and out, states read by workers that took a partition over.
wire = statistics.mean(r["weights_bytes"] + r["weights_fetched_bytes"] + 2 * r["delta_bytes"] + r["state_read_bytes"]
                       + (r.get("full_bytes", 0) // r["full_fetches"] if r.get("full_fetches") else 0) for r in steady)
tests = [json.loads(l) for l in open(d + "/lenet_metrics.jsonl")]
tests = [t for t in tests if "accuracy" in t]
reach = next((t["wall_s"] for t in tests if t["accuracy"] >= target), None)
final = tests[-1]["accuracy"] if tests else float("nan")
print("%-8s %-7d %10.1f %11.1f %12.1f %12.0f %12.0f %12.0f %12.0f %10.4f %12s" % (
    rtt + " ms", len(rounds), med("wall_s"), med("compute_s"), med("overhead_s"), bcast, delta, state, wire, final,
    "%.1f" % reach if reach is not None else "not reached"))
EOF
done
echo "(medians over rounds after the first; bytes are means per round: bcast = what the workers read of"
echo " the broadcast, delta = the deltas combined, state = partition states stored off the critical path,"
echo " wire = what the NATS server moved on the rounds' critical path; logs in $out/)"
