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
// parameters and tau = 1 on loopback (embedded server, four in-process
// workers): overhead-ms is the round's wall time minus the slowest worker's
// compute (median over the rounds after the first), payload-B the
// broadcast plus the deltas (what the local engine reports), wire-B
// what the server moved on the round's critical path (the weights once in
// and once per worker out, the deltas in and out, partition states that
// moved between workers). Stored partition states (store-every 0: every
// round, in the background) come on top.
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
			var overhead []time.Duration
			var payload, wire float64
			for i := 0; i < b.N; i++ {
				var stats []RoundStats
				eng := New(Config{URL: srv.URL(), Log: log, OnRound: func(s RoundStats) { stats = append(stats, s) }})
				_, err := parallel.Train(context.Background(), parallel.Config{Solver: param, Workers: 4, Tau: 1, Codec: codec,
					RunID: fmt.Sprintf("bench-%s-%d", codec, i)}, eng)
				if err != nil {
					b.Fatalf("%v\n%s", err, log.String())
				}
				for _, s := range stats[1:] {
					overhead = append(overhead, s.Overhead)
					payload += float64(s.WeightsBytes*4 + s.DeltaBytes)
					wire += float64(s.WeightsBytes + s.WeightsFetched + 2*s.DeltaBytes + s.StateBytes)
				}
			}
			slices.Sort(overhead)
			n := float64(len(overhead))
			b.ReportMetric(float64(overhead[len(overhead)/2].Microseconds())/1e3, "overhead-ms")
			b.ReportMetric(payload/n, "payload-B")
			b.ReportMetric(wire/n, "wire-B")
		})
	}
}
