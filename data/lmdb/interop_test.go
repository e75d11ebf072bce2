package lmdb

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// These tests check our files against liblmdb itself through the tools of
// Debian's lmdb-utils (mdb_dump, mdb_stat, mdb_load). Where the tools are
// missing the tests skip, unless CI or SPARKNET_REQUIRE_TOOLS is set, in
// which case a missing tool is a failure: CI installs lmdb-utils.

func requireTools() bool {
	for _, v := range []string{os.Getenv("SPARKNET_REQUIRE_TOOLS"), os.Getenv("CI")} {
		if v != "" && v != "0" && v != "false" {
			return true
		}
	}
	return false
}

func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("%s not found: install lmdb-utils (apt-get install lmdb-utils) to check LMDB interoperability", name)
		if requireTools() {
			t.Fatal(msg + " (required because CI or SPARKNET_REQUIRE_TOOLS is set)")
		}
		t.Skip(msg)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// parseDump reads mdb_dump's default (hex "bytevalue") format.
func parseDump(t *testing.T, out string) []kv {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<26)
	var recs []kv
	inData := false
	var pending []byte
	havePending := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "HEADER=END":
			inData = true
		case line == "DATA=END":
			inData = false
		case inData && strings.HasPrefix(line, " "):
			b, err := hex.DecodeString(line[1:])
			if err != nil {
				t.Fatalf("mdb_dump output: %v", err)
			}
			if !havePending {
				pending, havePending = b, true
			} else {
				recs = append(recs, kv{pending, b})
				havePending = false
			}
		case inData:
			t.Fatalf("unexpected mdb_dump line %q", line)
		}
	}
	if havePending {
		t.Fatal("mdb_dump output ends with a key without a value")
	}
	return recs
}

// parseStat extracts "Name: value" numbers of the "Status of Main DB"
// section of mdb_stat's output.
func parseStat(t *testing.T, out string) map[string]uint64 {
	t.Helper()
	i := strings.Index(out, "Status of Main DB")
	if i < 0 {
		t.Fatalf("mdb_stat output has no main DB section:\n%s", out)
	}
	m := map[string]uint64{}
	for _, mt := range regexp.MustCompile(`(?m)^\s+([A-Za-z ]+): (\d+)$`).FindAllStringSubmatch(out[i:], -1) {
		v, _ := strconv.ParseUint(mt[2], 10, 64)
		m[mt[1]] = v
	}
	return m
}

// TestLiblmdbReadsOurs writes databases with our writer and reads them with
// liblmdb's mdb_dump and mdb_stat.
func TestLiblmdbReadsOurs(t *testing.T) {
	nm := nodeMax(DefaultPageSize)
	for _, c := range []struct {
		name   string
		n, pad int
		sizes  []int
	}{
		{"empty", 0, 0, []int{1}},
		{"mnist-like", 3000, 0, []int{797}},
		{"cifar-like", 400, 0, []int{3087, nm - 16, nm - 15, 0}},
		{"deep", 4000, 492, []int{1, 9}},
		{"big", 20, 0, []int{150000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			recs := genRecords(c.n, c.pad, c.sizes, 11)
			writeDB(t, dir, recs)
			got := parseDump(t, run(t, "mdb_dump", dir))
			if len(got) != len(recs) {
				t.Fatalf("mdb_dump gives %d records, want %d", len(got), len(recs))
			}
			for i := range recs {
				if !bytes.Equal(got[i].k, recs[i].k) || !bytes.Equal(got[i].v, recs[i].v) {
					t.Fatalf("mdb_dump record %d differs: key %q, want %q", i, got[i].k, recs[i].k)
				}
			}
			db, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			st := db.Stat()
			db.Close()
			ms := parseStat(t, run(t, "mdb_stat", dir))
			for name, want := range map[string]uint64{
				"Entries": st.Entries, "Tree depth": uint64(st.Depth), "Branch pages": st.BranchPages,
				"Leaf pages": st.LeafPages, "Overflow pages": st.OverflowPages,
			} {
				if ms[name] != want {
					t.Errorf("mdb_stat %s = %d, want %d", name, ms[name], want)
				}
			}
			if ms["Entries"] != uint64(c.n) {
				t.Errorf("mdb_stat Entries = %d, want %d", ms["Entries"], c.n)
			}
		})
	}
}

// TestWeReadLiblmdbs loads records in random order with liblmdb's mdb_load
// (page splits, half-full pages, a non-empty free list after its batched
// commits, overflow pages) and reads the result with our reader.
func TestWeReadLiblmdbs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	recs := genRecords(2500, 0, []int{5, 700, 2500, 9000, 120}, 13)
	order := r.Perm(len(recs))
	var b strings.Builder
	b.WriteString("VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=268435456\nHEADER=END\n")
	for _, i := range order {
		fmt.Fprintf(&b, " %s\n %s\n", hex.EncodeToString(recs[i].k), hex.EncodeToString(recs[i].v))
	}
	b.WriteString("DATA=END\n")
	in := filepath.Join(t.TempDir(), "dump.txt")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "db")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "mdb_load", "-f", in, dir)
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkRecords(t, db, recs)
	ms := parseStat(t, run(t, "mdb_stat", dir))
	st := db.Stat()
	if ms["Tree depth"] != uint64(st.Depth) || ms["Leaf pages"] != st.LeafPages || ms["Overflow pages"] != st.OverflowPages {
		t.Errorf("Stat %+v disagrees with mdb_stat %v", st, ms)
	}
	if st.Depth < 2 || st.OverflowPages == 0 {
		t.Errorf("Stat %+v: want a multi-level tree with overflow pages", st)
	}
}

// TestLiblmdbWritesIntoOurs adds records with liblmdb (mdb_load into the
// existing environment) to a database our writer made: liblmdb's write
// path (page splits of our full pages, copy-on-write, the free list) must
// accept our tree, and both readers must then see the union.
func TestLiblmdbWritesIntoOurs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	all := genRecords(3000, 0, []int{40, 3000}, 17)
	var ours, theirs []kv
	for i, r := range all {
		if i%3 == 1 {
			theirs = append(theirs, r)
		} else {
			ours = append(ours, r)
		}
	}
	writeDB(t, dir, ours)
	var b strings.Builder
	b.WriteString("VERSION=3\nformat=bytevalue\ntype=btree\nmapsize=268435456\nHEADER=END\n")
	for _, r := range theirs {
		fmt.Fprintf(&b, " %s\n %s\n", hex.EncodeToString(r.k), hex.EncodeToString(r.v))
	}
	b.WriteString("DATA=END\n")
	in := filepath.Join(t.TempDir(), "dump.txt")
	if err := os.WriteFile(in, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "mdb_load", "-f", in, dir)
	got := parseDump(t, run(t, "mdb_dump", dir))
	if len(got) != len(all) {
		t.Fatalf("mdb_dump gives %d records, want %d", len(got), len(all))
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkRecords(t, db, all)
}
