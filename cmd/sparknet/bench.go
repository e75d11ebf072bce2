package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// benchCommand is one `sparknet bench` study, with its own flags.
type benchCommand struct {
	short    string
	setFlags func(fs *flag.FlagSet)
	run      func(ctx context.Context, fs *flag.FlagSet) error
}

var benchCommands = map[string]*benchCommand{}

func benchNames() []string {
	var names []string
	for n := range benchCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() {
	register(&Command{
		Name:      "bench",
		UsageLine: "STUDY [flags]",
		Short:     "run a benchmark study (scaling)",
		Long: `Bench runs a benchmark study. Studies:

  scaling   the SparkNet paper's speedup study: time to a test accuracy for
            numbers of workers x tau x communication latency, on a virtual
            clock, with CSV, plots and an HTML page

Run 'sparknet bench STUDY -h' for a study's flags.`,
		Run: runBench,
	})
}

func runBench(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("name a study (%s): %w", strings.Join(benchNames(), ", "), errUsage)
	}
	b, ok := benchCommands[args[0]]
	if !ok {
		return fmt.Errorf("unknown study %q (have %s): %w", args[0], strings.Join(benchNames(), ", "), errUsage)
	}
	fs := flag.NewFlagSet("bench "+args[0], flag.ContinueOnError)
	b.setFlags(fs)
	fs.Usage = func() { benchUsage(os.Stderr, args[0], b, fs) }
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return fmt.Errorf("bench %s: %w", args[0], err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench %s: unexpected arguments %q", args[0], fs.Args())
	}
	return b.run(ctx, fs)
}

func benchUsage(w io.Writer, name string, b *benchCommand, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: sparknet bench %s [flags]\n\n%s\n\nflags:\n", name, b.short)
	fs.SetOutput(w)
	fs.PrintDefaults()
}
