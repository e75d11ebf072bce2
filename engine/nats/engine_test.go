package nats

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/engine/local"
	"github.com/sparknet/sparknet/parallel"
)

// syncBuffer is a log writer safe for the engine's and workers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeSyntheticLMDB writes n random 1x8x8 images with labels in 0..3 whose
// mean brightness depends on the label (so a net can learn something).
func writeSyntheticLMDB(t testing.TB, dir string, n int) string {
	t.Helper()
	path := filepath.Join(dir, "train_lmdb")
	w, err := data.CreateDB(data.LMDB, path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	d := data.Datum{Channels: 1, Height: 8, Width: 8}
	pix := make([]byte, 64)
	for i := 0; i < n; i++ {
		label := r.IntN(4)
		for j := range pix {
			pix[j] = byte(min(255, label*50+r.IntN(80)))
		}
		d.Data, d.Label = pix, int32(label)
		if err := w.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// tinySolver is a small conv net on the synthetic data, with momentum (so
// the workers' history matters) and dropout (so their random state does).
func tinySolver(t testing.TB, dir string, maxIter int) *pb.SolverParameter {
	t.Helper()
	src := writeSyntheticLMDB(t, dir, 120)
	text := fmt.Sprintf(`
base_lr: 0.05 momentum: 0.9 weight_decay: 0.0005 lr_policy: "inv" gamma: 0.001 power: 0.75
max_iter: %d random_seed: 7 snapshot_prefix: %q
net_param {
  name: "tiny"
  layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN }
    transform_param { scale: 0.00390625 } data_param { source: %q batch_size: 4 backend: LMDB } }
  layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
    convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
  layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
  layer { name: "drop" type: "Dropout" bottom: "conv" top: "conv" dropout_param { dropout_ratio: 0.2 } }
  layer { name: "ip" type: "InnerProduct" bottom: "conv" top: "ip"
    inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
}`, maxIter, filepath.Join(dir, "tiny"), src)
	p, err := caffe.ParseSolver("tiny_solver.prototxt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startWorkers runs n in-process workers against url until the returned
// stop is called.
func startWorkers(t testing.TB, url string, sec Security, n int, log *syncBuffer, fault string, storeEvery ...time.Duration) (stop func()) {
	return startWorkersWith(t, url, sec, n, log, func(c *WorkerConfig) {
		c.Fault = fault
		if len(storeEvery) > 0 {
			c.StoreEvery = storeEvery[0]
		}
	})
}

// startWorkersWith runs n in-process workers configured by set.
func startWorkersWith(t testing.TB, url string, sec Security, n int, log *syncBuffer, set func(*WorkerConfig)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := WorkerConfig{URL: url, Security: sec, Name: fmt.Sprintf("w%d", i), CacheDir: t.TempDir(), Log: log}
			set(&cfg)
			err := RunWorker(ctx, cfg)
			if err != nil {
				fmt.Fprintf(log, "worker %d: %v\n", i, err)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// TestEngineMatchesLocal trains the same seeded run on the local engine and
// on the NATS engine with in-process workers (fewer workers than
// partitions, so partitions move between workers with their state) and
// requires bit-identical weights, for exact weights and for int8 updates
// with error feedback, with partition states stored after every round and
// with states handed from worker to worker on request (-store-every 1h),
// also when workers keep one replica and must store a state before
// evicting it.
func TestEngineMatchesLocal(t *testing.T) {
	for _, tc := range []struct {
		codec      parallel.Codec
		storeEvery time.Duration
		maxParts   int // replicas a worker keeps (0: the default)
	}{{parallel.CodecNone, 0, 0}, {parallel.CodecInt8, 0, 0}, {parallel.CodecInt8, time.Hour, 0}, {parallel.CodecNone, time.Hour, 1}} {
		codec := tc.codec
		t.Run(fmt.Sprintf("%s/store-every-%v/replicas-%d", codec, tc.storeEvery, tc.maxParts), func(t *testing.T) {
			dir := t.TempDir()
			param := tinySolver(t, dir, 24)
			cfg := parallel.Config{Solver: param, Workers: 3, Tau: 4, Codec: codec}
			want, err := parallel.Train(context.Background(), cfg, local.New(local.Options{Threads: 2}))
			if err != nil {
				t.Fatal(err)
			}

			log := &syncBuffer{}
			srv, err := StartServer(ServerConfig{StoreDir: filepath.Join(dir, "nats"), Log: log})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			stop := startWorkersWith(t, srv.URL(), Security{}, 2, log, func(c *WorkerConfig) {
				c.StoreEvery, c.shuffle, c.MaxPartitions = tc.storeEvery, true, tc.maxParts
			})
			var stats []RoundStats
			eng := New(Config{URL: srv.URL(), Log: log, AckWait: 5 * time.Second,
				OnRound: func(s RoundStats) { stats = append(stats, s) }})
			cfg.RunID = fmt.Sprintf("run-%s-%d-%d", codec, tc.storeEvery/time.Second, tc.maxParts)
			got, err := parallel.Train(context.Background(), cfg, eng)
			stop()
			if err != nil {
				t.Fatalf("%v\nlog:\n%s", err, log.String())
			}
			if len(got.Weights) != len(want.Weights) {
				t.Fatalf("%d weights, want %d", len(got.Weights), len(want.Weights))
			}
			for i := range want.Weights {
				if math.Float32bits(got.Weights[i]) != math.Float32bits(want.Weights[i]) {
					t.Fatalf("weight %d: NATS engine %v, local engine %v\nlog:\n%s", i, got.Weights[i], want.Weights[i], log.String())
				}
			}
			if len(stats) != got.Rounds || got.Rounds != 6 {
				t.Fatalf("%d round statistics for %d rounds, want 6", len(stats), got.Rounds)
			}
			for _, s := range stats {
				if s.DeltaBytes != got.BytesUp/int64(got.Rounds) || s.WeightsBytes <= 0 || s.Overhead < 0 {
					t.Errorf("round statistics %+v (bytes up per round %d)", s, got.BytesUp/int64(got.Rounds))
				}
			}
			var moved int64
			for _, s := range stats {
				moved += s.StateBytes
			}
			if moved == 0 {
				t.Error("no partition state moved between workers; the test does not test that")
			}
			if strings.Contains(log.String(), "dropped") {
				t.Errorf("a result was dropped:\n%s", log.String())
			}
		})
	}
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sparknet-nats-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureRoot = dir
	sparknetBin, binaryErr = buildBinary(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
