package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	enats "github.com/sparknet/sparknet/engine/nats"
)

var statusFlags struct {
	conn    natsConnFlags
	jsonOut bool
}

func init() {
	register(&Command{
		Name:      "status",
		UsageLine: "-nats URL [-nats-token T | -nats-nkey FILE] [-tls-...] [-json]",
		Short:     "list the workers and runs on a NATS server",
		Long: `Status lists what a NATS server used by 'sparknet train -engine nats' is
doing: the workers registered (host, threads, the task in progress, tasks
done and failed, the timings of the last task) and the runs (driver,
partitions, the round in flight with the state and worker of each
partition, the last round's time, overhead and bytes).`,
		SetFlags: func(fs *flag.FlagSet) {
			statusFlags.conn.register(fs, "URL of the NATS server")
			fs.BoolVar(&statusFlags.jsonOut, "json", false, "print JSON instead of tables")
		},
		Run: runStatus,
	})
}

func runStatus(ctx context.Context, args []string) error {
	f := &statusFlags
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	if f.conn.url == "" {
		return fmt.Errorf("need the NATS server's URL (-nats): %w", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := enats.ReadStatus(ctx, f.conn.url, f.conn.security())
	if err != nil {
		return err
	}
	if f.jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	printStatus(os.Stdout, st, time.Now())
	return nil
}

// printStatus writes the workers and runs as tables.
func printStatus(w io.Writer, st *enats.Status, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "WORKER\tHOST\tTHREADS\tSEEN\tTASKS\tFAILED\tLAST FETCH\tLAST COMPUTE\tLAST STORE\tBUSY\n")
	for _, wi := range st.Workers {
		busy := wi.Busy
		if busy == "" {
			busy = "idle"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s ago\t%d\t%d\t%s\t%s\t%s\t%s\n", wi.Name, wi.Host, wi.Threads,
			now.Sub(wi.Seen).Round(time.Second), wi.Tasks, wi.Failed,
			secs(wi.LastFetchS), secs(wi.LastComputeS), secs(wi.LastStoreS), busy)
	}
	if len(st.Workers) == 0 {
		fmt.Fprintf(tw, "(no workers)\n")
	}
	tw.Flush()
	for _, r := range st.Runs {
		fmt.Fprintf(w, "\nRUN %s  net %s  driver %s  %d partitions, tau %d  iteration %d/%d  started %s ago\n",
			r.Run, r.Net, r.Driver, r.Partitions, r.Tau, r.Iter, r.MaxIter, now.Sub(r.Started).Round(time.Second))
		if r.Round < 0 {
			fmt.Fprintf(w, "  no round started yet\n")
			continue
		}
		fmt.Fprintf(w, "  round %d in flight for %s; last round %s (overhead %s, %s)\n", r.Round,
			now.Sub(r.RoundStarted).Round(time.Millisecond), secs(r.LastRoundS), secs(r.LastOverheadS), humanBytes(r.LastBytes))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  PARTITION\tSTATUS\tWORKER\tCOMPUTE\tERROR\n")
		for p, pi := range r.Parts {
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", p, pi.Status, pi.Worker, secs(pi.ComputeS), oneLine(pi.Error))
		}
		tw.Flush()
	}
	if len(st.Runs) == 0 {
		fmt.Fprintf(w, "\n(no runs)\n")
	}
}

func secs(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3fs", s)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
