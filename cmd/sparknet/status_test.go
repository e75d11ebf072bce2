package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	enats "github.com/sparknet/sparknet/engine/nats"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := &enats.Status{
		Workers: []enats.WorkerInfo{
			{Name: "w1", Host: "h1", Threads: 4, Seen: now.Add(-2 * time.Second), Tasks: 10, Failed: 1,
				LastFetchS: 0.012, LastComputeS: 1.5, LastStoreS: 0.02, Busy: "run r1 round 3 partition 1"},
			{Name: "w2", Host: "h2", Threads: 2, Seen: now},
		},
		Runs: []enats.RunInfo{{
			Run: "r1", Net: "LeNet", Driver: "d/1", Partitions: 2, Tau: 50, Started: now.Add(-time.Minute),
			Round: 3, RoundStarted: now.Add(-1500 * time.Millisecond), Iter: 150, MaxIter: 1000,
			LastRoundS: 1.6, LastOverheadS: 0.05, LastBytes: 3 << 20,
			Parts: []enats.PartitionInfo{{Status: "done", Worker: "w2", ComputeS: 1.4}, {Status: "queued"}},
		}},
	}
	var b bytes.Buffer
	printStatus(&b, st, now)
	out := b.String()
	for _, want := range []string{
		"w1", "h1", "2s ago", "1.500s", "run r1 round 3 partition 1", "idle",
		"RUN r1  net LeNet  driver d/1  2 partitions, tau 50  iteration 150/1000  started 1m0s ago",
		"round 3 in flight for 1.5s; last round 1.600s (overhead 0.050s, 3.0 MiB)",
		"done", "queued",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	printStatus(&b, &enats.Status{}, now)
	if !strings.Contains(b.String(), "(no workers)") || !strings.Contains(b.String(), "(no runs)") {
		t.Errorf("empty status:\n%s", b.String())
	}
}
