// Command sparknet trains, tests and times Caffe-defined networks, on one
// machine or on a cluster, with the SparkNet parallel scheme.
//
// Every subcommand is a Command value in its own file; main only dispatches.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
)

// Command is one subcommand: its usage line, help texts, flags and body.
type Command struct {
	// Name is the word after "sparknet".
	Name string
	// UsageLine is the synopsis after the name, e.g. "-solver FILE [flags]".
	UsageLine string
	// Short is a one-line description for "sparknet help".
	Short string
	// Long is the full description for "sparknet help NAME".
	Long string
	// Flags holds the subcommand's flags; SetFlags registers them.
	Flags *flag.FlagSet
	// SetFlags registers the flags on fs before parsing.
	SetFlags func(fs *flag.FlagSet)
	// Run executes the command with the arguments left after the flags.
	Run func(ctx context.Context, args []string) error
}

// errUsage asks main to print the command's usage and exit with status 2.
var errUsage = errors.New("usage")

var commands = map[string]*Command{}

// register adds a command; each command file calls it from init.
func register(c *Command) {
	if _, dup := commands[c.Name]; dup {
		panic("sparknet: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func (c *Command) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: sparknet %s %s\n", c.Name, c.UsageLine)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	if c.Flags != nil {
		has := false
		c.Flags.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(w, "\nflags:\n")
			c.Flags.SetOutput(w)
			c.Flags.PrintDefaults()
		}
	}
}

func (c *Command) init() {
	if c.Flags != nil {
		return
	}
	c.Flags = flag.NewFlagSet(c.Name, flag.ContinueOnError)
	if c.SetFlags != nil {
		c.SetFlags(c.Flags)
	}
}

func sortedNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func mainUsage(w io.Writer) {
	fmt.Fprintf(w, "sparknet trains Caffe-defined networks in Go, on one machine or a cluster.\n\n")
	fmt.Fprintf(w, "usage: sparknet <command> [flags] [args]\n\ncommands:\n")
	for _, n := range sortedNames() {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].Short)
	}
	fmt.Fprintf(w, "\nRun 'sparknet help <command>' for the flags of a command.\n")
	fmt.Fprintf(w, "Set SPARKNET_CPUPROFILE=FILE to write a CPU profile of the command (go tool pprof).\n")
}

func init() {
	register(&Command{
		Name:      "help",
		UsageLine: "[command]",
		Short:     "show help for a command",
		Run: func(_ context.Context, args []string) error {
			if len(args) == 0 {
				mainUsage(os.Stdout)
				return nil
			}
			c, ok := commands[args[0]]
			if !ok {
				return fmt.Errorf("unknown command %q; run 'sparknet help'", args[0])
			}
			c.init()
			c.usage(os.Stdout)
			return nil
		},
	})
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		mainUsage(os.Stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" {
		name = "help"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "sparknet: unknown command %q\n", name)
		mainUsage(os.Stderr)
		return 2
	}
	c.init()
	c.Flags.Usage = func() { c.usage(os.Stderr) }
	if err := c.Flags.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if path := os.Getenv("SPARKNET_CPUPROFILE"); path != "" {
		// A CPU profile of the whole command, for `go tool pprof`.
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sparknet: SPARKNET_CPUPROFILE: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "sparknet: SPARKNET_CPUPROFILE: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.Run(ctx, c.Flags.Args()); err != nil {
		if errors.Is(err, errUsage) {
			if msg := strings.TrimSuffix(err.Error(), ": "+errUsage.Error()); err != errUsage && msg != "" {
				fmt.Fprintf(os.Stderr, "sparknet %s: %s\n\n", c.Name, msg)
			}
			c.usage(os.Stderr)
			return 2
		}
		fmt.Fprintf(os.Stderr, "sparknet %s: %v\n", c.Name, err)
		return 1
	}
	return 0
}
