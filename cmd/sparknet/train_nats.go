package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	enats "github.com/sparknet/sparknet/engine/nats"
	"github.com/sparknet/sparknet/parallel"
)

// natsConnFlags are the connection flags shared by `train -engine nats`,
// `worker` and `status`.
type natsConnFlags struct {
	url                    string
	token, nkey            string
	tlsCert, tlsKey, tlsCA string
}

func (f *natsConnFlags) register(fs *flag.FlagSet, urlHelp string) {
	fs.StringVar(&f.url, "nats", "", urlHelp)
	fs.StringVar(&f.token, "nats-token", "", "NATS authorization token (default $"+enats.EnvToken+")")
	fs.StringVar(&f.nkey, "nats-nkey", "", "file with a NATS user nkey seed (SU...) to authenticate with")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate (PEM): the embedded server's, or a worker's client certificate")
	fs.StringVar(&f.tlsKey, "tls-key", "", "key of -tls-cert (PEM)")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA certificates (PEM) to verify the server, or, on the embedded server, to require and verify client certificates")
}

// security returns the flags' credentials; the token falls back to the
// environment, so it need not appear in the process list.
func (f *natsConnFlags) security() enats.Security {
	tok := f.token
	if tok == "" {
		tok = os.Getenv(enats.EnvToken)
	}
	return enats.Security{Token: tok, NKeyFile: f.nkey, TLSCert: f.tlsCert, TLSKey: f.tlsKey, TLSCA: f.tlsCA}
}

// natsTrainFlags are the flags `sparknet train` gets for -engine nats.
var natsTrainFlags struct {
	conn     natsConnFlags
	listen   string
	spawn    int
	shipData bool
	ackWait  time.Duration
	storeDir string
}

// natsFlagNames are the flags that only mean something with -engine nats.
var natsFlagNames = []string{"nats", "nats-listen", "nats-token", "nats-nkey", "tls-cert", "tls-key", "tls-ca", "spawn", "ship-data", "nats-ack-wait", "nats-store"}

func init() {
	registerTrainExtension(trainExtension{setFlags: setNATSFlags, run: checkNATSFlags})
	registerParallelEngine("nats", newNATSEngine)
}

func setNATSFlags(fs *flag.FlagSet) {
	f := &natsTrainFlags
	f.conn.register(fs, "-engine nats: URL of an existing NATS server with JetStream (default: embed one in this process)")
	fs.StringVar(&f.listen, "nats-listen", "127.0.0.1:0", "-engine nats: HOST:PORT the embedded NATS server listens on (port 0: any free port; beyond loopback needs credentials)")
	fs.IntVar(&f.spawn, "spawn", 0, "-engine nats: start this many 'sparknet worker' processes on this machine")
	fs.BoolVar(&f.shipData, "ship-data", false, "-engine nats: put the data files in the NATS object store for workers without a shared filesystem")
	fs.DurationVar(&f.ackWait, "nats-ack-wait", 30*time.Second, "-engine nats: give a task to another worker when its worker shows no sign of life for this long")
	fs.StringVar(&f.storeDir, "nats-store", "", "-engine nats: storage directory of the embedded server (default <snapshot_prefix>_nats)")
}

// checkNATSFlags refuses NATS flags without -engine nats. (It runs before
// the parallel extension, whose file sorts after this one.)
func checkNATSFlags(_ context.Context, _ *TrainRun) (bool, error) {
	if parallelFlags.engine == "nats" && parallelFlags.workers > 0 {
		return false, nil
	}
	set := map[string]bool{}
	commands["train"].Flags.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for _, name := range natsFlagNames {
		if set[name] {
			return true, fmt.Errorf("-%s needs -engine nats and -workers: %w", name, errUsage)
		}
	}
	return false, nil
}

// newNATSEngine builds the NATS engine from the flags. Spawned workers
// share the -threads budget (default: all cores) evenly.
func newNATSEngine(threads int) (parallel.Engine, error) {
	f := &natsTrainFlags
	if f.spawn < 0 {
		return nil, fmt.Errorf("-spawn must not be negative: %w", errUsage)
	}
	if f.conn.url != "" && f.listen != "127.0.0.1:0" {
		return nil, fmt.Errorf("-nats-listen configures the embedded server; it cannot be combined with -nats URL: %w", errUsage)
	}
	cfg := enats.Config{
		URL:      f.conn.url,
		Listen:   f.listen,
		StoreDir: f.storeDir,
		Security: f.conn.security(),
		Spawn:    f.spawn,
		ShipData: f.shipData,
		AckWait:  f.ackWait,
		// Per-round overhead and bytes, beside the metrics.
		RoundsLog: true,
	}
	if f.spawn > 0 {
		total := threads
		if total <= 0 {
			total = runtime.NumCPU()
		}
		cfg.WorkerArgs = []string{"-threads", strconv.Itoa(max(1, total/f.spawn))}
	}
	return enats.New(cfg), nil
}
