package nats

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/parallel"
)

// ip1M is a net of 1,001,000 parameters (one 1000x1000 inner product and
// its bias) on DummyData: the iterations are cheap, so a round is mostly
// what the engine costs.
const ip1M = `
base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: %d random_seed: 1 snapshot_after_train: false
snapshot_prefix: %q
net_param {
  name: "ip1m"
  layer { name: "data" type: "DummyData" top: "data" top: "label"
    dummy_data_param { shape { dim: 4 dim: 1000 } shape { dim: 4 }
      data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 } } }
  layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
    inner_product_param { num_output: 1000 weight_filler { type: "gaussian" std: 0.01 } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
}`

// BenchmarkRoundOverhead measures a round of K = 4 workers at 1M
// parameters and tau = 1 on loopback: a NATS server in this process, four
// workers in it connecting over TCP: overhead-ms is the round's wall time
// minus the slowest worker's compute (median over the rounds after the
// first), cycle-ms the same for the whole cycle from one round's end to the
// next (the driver's combine, outer step and broadcast encoding included),
// cpu-ms/round the CPU time of the whole process (server, driver, workers)
// per round; payload-B is what the workers read of the broadcast
// plus the deltas (the local engine's accounting: the weights, or with int8
// their update, once per worker), wire-B what the server moved on the
// round's critical path (the broadcast in and out to every worker, the
// deltas in and out, partition states that moved between workers), and
// state-B the partition states stored per round (store-every 0: every
// round, in the background, after the results).
func BenchmarkRoundOverhead(b *testing.B) {
	for _, tc := range []struct {
		codec      parallel.Codec
		storeEvery time.Duration
	}{{parallel.CodecNone, 0}, {parallel.CodecInt8, 0}, {parallel.CodecNone, time.Hour}, {parallel.CodecInt8, time.Hour}} {
		codec := tc.codec
		b.Run(fmt.Sprintf("%s/store-every-%v", codec, tc.storeEvery), func(b *testing.B) {
			const rounds = 12
			dir := b.TempDir()
			param, err := caffe.ParseSolver("ip1m", []byte(fmt.Sprintf(ip1M, rounds, filepath.Join(dir, "ip"))))
			if err != nil {
				b.Fatal(err)
			}
			log := &syncBuffer{}
			srv, err := StartServer(ServerConfig{StoreDir: filepath.Join(dir, "nats"), Log: log})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			stop := startWorkers(b, srv.URL(), Security{}, 4, log, "", tc.storeEvery)
			defer stop()
			var overhead, cycle []time.Duration
			var payload, wire, state, cpu float64
			for i := 0; i < b.N; i++ {
				var stats []RoundStats
				var cpus []time.Duration
				var ends []time.Time
				eng := New(Config{URL: srv.URL(), Log: log, OnRound: func(s RoundStats) {
					stats = append(stats, s)
					cpus = append(cpus, processCPU())
					ends = append(ends, time.Now())
				}})
				_, err := parallel.Train(context.Background(), parallel.Config{Solver: param, Workers: 4, Tau: 1, Codec: codec,
					RunID: fmt.Sprintf("bench-%s-%d", codec, i)}, eng)
				if err != nil {
					b.Fatalf("%v\n%s", err, log.String())
				}
				cpu += float64(cpus[len(cpus)-1] - cpus[0])
				for j, s := range stats[1:] {
					overhead = append(overhead, s.Overhead)
					cycle = append(cycle, ends[j+1].Sub(ends[j])-s.Compute)
					payload += float64(s.WeightsFetched + s.DeltaBytes)
					wire += float64(s.WeightsBytes + s.WeightsFetched + 2*s.DeltaBytes + s.StateBytes)
					state += float64(s.StateStored)
				}
			}
			slices.Sort(overhead)
			slices.Sort(cycle)
			n := float64(len(overhead))
			b.ReportMetric(float64(overhead[len(overhead)/2].Microseconds())/1e3, "overhead-ms")
			b.ReportMetric(float64(cycle[len(cycle)/2].Microseconds())/1e3, "cycle-ms")
			b.ReportMetric(cpu/n/1e6, "cpu-ms/round")
			b.ReportMetric(payload/n, "payload-B")
			b.ReportMetric(wire/n, "wire-B")
			b.ReportMetric(state/n, "state-B")
		})
	}
}
