package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/sparknet/sparknet/blas"
	enats "github.com/sparknet/sparknet/engine/nats"
)

var workerFlags struct {
	conn    natsConnFlags
	threads int
	name    string
	cache   string
	fault   string
	quiet   bool
	store   time.Duration
}

func init() {
	register(&Command{
		Name:      "worker",
		UsageLine: "-nats URL [-nats-token T | -nats-nkey FILE] [-tls-ca F [-tls-cert F -tls-key F]] [-threads N] [-name NAME]",
		Short:     "serve the rounds of parallel runs from a NATS server",
		Long: `Worker connects to the NATS server of 'sparknet train -engine nats' and runs
the rounds of every run on it: it pulls a task (one data partition for one
round), fetches the round's weights (with a lossy -compress, their update)
and the partition's state from the server's streams, runs tau iterations,
stores its result and acknowledges.
Start any number of workers on any hosts, at any time; a worker that dies
mid-task has its task redelivered to another.

The worker needs the same data paths as the driver (a shared filesystem),
unless the driver runs with -ship-data. It registers in the server's
sparknet_workers bucket (see 'sparknet status') and stops on SIGINT or
SIGTERM, handing its task back.`,
		SetFlags: func(fs *flag.FlagSet) {
			f := &workerFlags
			f.conn.register(fs, "URL of the NATS server (nats://host:4222, tls://host:4222)")
			fs.IntVar(&f.threads, "threads", 0, "compute threads (0: all cores)")
			fs.StringVar(&f.name, "name", "", "worker name, unique on the server (default HOST-PID)")
			fs.StringVar(&f.cache, "cache", "", "directory for data shipped by -ship-data (default: the user cache directory)")
			fs.BoolVar(&f.quiet, "quiet", false, "do not log every task")
			fs.DurationVar(&f.store, "store-every", 0, "store a partition's state at most this often (0: after every round, so a worker's death loses nothing; longer saves traffic, and a death loses up to that much of a partition's progress)")
			fs.StringVar(&f.fault, "inject-fault", "", "testing: corrupt every result: nan or shape")
		},
		Run: runWorker,
	})
}

func runWorker(ctx context.Context, args []string) error {
	f := &workerFlags
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	if f.conn.url == "" {
		return fmt.Errorf("need the NATS server's URL (-nats): %w", errUsage)
	}
	if f.threads < 0 {
		return fmt.Errorf("-threads must not be negative: %w", errUsage)
	}
	blas.SetThreads(f.threads)
	return enats.RunWorker(ctx, enats.WorkerConfig{
		URL:        f.conn.url,
		Security:   f.conn.security(),
		Name:       f.name,
		Threads:    blas.Threads(),
		CacheDir:   f.cache,
		Log:        os.Stderr,
		Fault:      f.fault,
		Quiet:      f.quiet,
		StoreEvery: f.store,
	})
}
