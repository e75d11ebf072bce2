package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedUpToDate regenerates package blas's kernels with the flags
// of its go:generate line and compares them with the committed files.
func TestGeneratedUpToDate(t *testing.T) {
	dir := filepath.Join("..", "..")
	stubs, err := os.ReadFile(filepath.Join(dir, "stubs_amd64.go"))
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, line := range strings.Split(string(stubs), "\n") {
		if rest, ok := strings.CutPrefix(line, "//go:generate go run ./internal/asmgen "); ok {
			args = strings.Fields(rest)
		}
	}
	flags := map[string]string{"-pkg": "blas", "-tags": "!noasm"}
	for i := 0; i+1 < len(args); i += 2 {
		flags[args[i]] = args[i+1]
	}
	if flags["-v"] == "" || flags["-o"] == "" || flags["-go"] == "" {
		t.Fatalf("no complete go:generate line for asmgen in stubs_amd64.go (found %q)", args)
	}
	asm, decls, err := generate(flags["-v"], flags["-pkg"], flags["-tags"])
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{flags["-o"]: asm, flags["-go"]: decls} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("blas/%s is stale: run go generate in blas", name)
		}
	}
}

func TestParseVariant(t *testing.T) {
	good := map[string]variant{
		"avx512:z:13:2":   {name: "avx512", wide: true, regs: 32, mr: 13, nv: 2},
		"e:z:13:1:nopack": {name: "e", wide: true, regs: 32, mr: 13, nv: 1, noPack: true},
		"avx2:y:6:2":      {name: "avx2", regs: 16, mr: 6, nv: 2},
		"wide:y32:14:2":   {name: "wide", regs: 32, mr: 14, nv: 2},
	}
	for spec, want := range good {
		got, err := parseVariant(spec)
		if err != nil || got != want {
			t.Errorf("parseVariant(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"x:z:13", "x:q:4:2", "x:z:0:2", "x:z:16:1", "x:z:15:2", "x:y:7:2", "x:z:4:5", "x:z:4:2:fast"} {
		if _, err := parseVariant(spec); err == nil {
			t.Errorf("parseVariant(%q) accepted a bad variant", spec)
		}
	}
}
