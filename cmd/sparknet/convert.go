package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// A converter is one "sparknet convert KIND" subcommand. Each lives in its
// own file (convert_KIND.go) and registers itself from init with
// registerConverter, as commands do with register.
type converter struct {
	// Name is the word after "convert", e.g. "mnist".
	Name string
	// UsageLine is the synopsis after the name.
	UsageLine string
	// Short is a one-line description.
	Short string
	// SetFlags registers the converter's flags.
	SetFlags func(fs *flag.FlagSet)
	// Run converts; args are the positional arguments (flags may appear
	// before, between or after them).
	Run func(ctx context.Context, args []string) error
}

var converters = map[string]*converter{}

// convertStderr receives the converters' progress and warnings (a variable
// for tests).
var convertStderr io.Writer = os.Stderr

var convertCommand = &Command{
	Name:      "convert",
	UsageLine: "KIND [flags] ARGS...",
	Short:     "convert a dataset to a Caffe database (LMDB or LevelDB)",
	Run:       runConvert,
}

func init() { register(convertCommand) }

// registerConverter adds a converter and lists it in "sparknet help convert".
func registerConverter(c *converter) {
	if _, dup := converters[c.Name]; dup {
		panic("sparknet: converter registered twice: " + c.Name)
	}
	converters[c.Name] = c
	names := make([]string, 0, len(converters))
	for n := range converters {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("Convert writes datasets as Caffe's conversion tools do, so that Caffe and\n" +
		"sparknet can both train on the result. Kinds:\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  sparknet convert %s %s\n      %s\n", n, converters[n].UsageLine, converters[n].Short)
	}
	b.WriteString("\nRun 'sparknet convert KIND -h' for the flags of a kind.")
	convertCommand.Long = b.String()
}

func runConvert(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("which kind of dataset? %w", errUsage)
	}
	c, ok := converters[args[0]]
	if !ok {
		return fmt.Errorf("unknown kind %q: %w", args[0], errUsage)
	}
	fs := flag.NewFlagSet("convert "+c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.SetFlags != nil {
		c.SetFlags(fs)
	}
	usage := func() {
		fmt.Fprintf(convertStderr, "usage: sparknet convert %s %s\n\n%s\n", c.Name, c.UsageLine, c.Short)
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(convertStderr, "\nflags:\n")
			fs.SetOutput(convertStderr)
			fs.PrintDefaults()
			fs.SetOutput(io.Discard)
		}
	}
	pos, err := parseInterspersed(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		usage()
		return nil
	}
	if err != nil {
		usage()
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	if err := c.Run(ctx, pos); err != nil {
		if errors.Is(err, errUsage) {
			usage()
			return fmt.Errorf("%s: %s", c.Name, strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
		}
		return err
	}
	return nil
}

// parseInterspersed parses flags that may come before, between and after
// the positional arguments, which it returns in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// wantArgs checks the number of positional arguments.
func wantArgs(args []string, names ...string) error {
	if len(args) != len(names) {
		return fmt.Errorf("want %d arguments (%s), got %d: %w", len(names), strings.Join(names, " "), len(args), errUsage)
	}
	return nil
}
