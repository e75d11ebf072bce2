package nats

import (
	"math"
	"strings"
	"testing"
)

func TestGlobalRoundTrip(t *testing.T) {
	w := []float32{1, -2.5, float32(math.Inf(1)), 3e-40, 0}
	h := []float32{7, 8}
	b := encodeGlobal("run-x", 3, 150, w, h)
	if int64(len(b)) != globalSize("run-x", len(w), len(h)) {
		t.Fatalf("%d bytes, globalSize says %d", len(b), globalSize("run-x", len(w), len(h)))
	}
	gw, gh := make([]float32, len(w)), make([]float32, len(h))
	if err := decodeGlobal(b, "run-x", 3, 150, gw, gh); err != nil {
		t.Fatal(err)
	}
	for i := range w {
		if math.Float32bits(gw[i]) != math.Float32bits(w[i]) {
			t.Errorf("weight %d: %v, want %v", i, gw[i], w[i])
		}
	}
	if gh[0] != 7 || gh[1] != 8 {
		t.Errorf("history %v", gh)
	}
	for name, tc := range map[string]struct {
		b           []byte
		run         string
		round, iter int
		nw, nh      int
		want        string
	}{
		"other run":   {b, "run-y", 3, 150, 5, 2, "of another run"},
		"other round": {b, "run-x", 4, 150, 5, 2, "want round 4"},
		"other size":  {b, "run-x", 3, 150, 4, 2, "bytes, want"},
		"no history":  {b, "run-x", 3, 150, 5, 0, "bytes, want"},
		"flipped bit": {flip(b, 60), "run-x", 3, 150, 5, 2, "checksum"},
		"truncated":   {b[:len(b)-1], "run-x", 3, 150, 5, 2, "bytes, want"},
	} {
		err := decodeGlobal(tc.b, tc.run, tc.round, tc.iter, make([]float32, tc.nw), make([]float32, tc.nh))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func TestNamesAndIDs(t *testing.T) {
	for _, ok := range []string{"r0123abcd", "run-ab12", NewRunID()} {
		if err := CheckRunID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a.b", "a*", "a>", "a b", "a/b", strings.Repeat("x", 65)} {
		if CheckRunID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := SanitizeName("host.example.com:9/é"); got != "host-example-com-9--" {
		t.Errorf("SanitizeName: %q", got)
	}
	name := stateObject(12, 3, "w-1")
	if p, ok := statePartition(name); !ok || p != 3 || stateRound(name) != 12 || stateOwner(name) != "w-1" {
		t.Errorf("%s: partition %d %v, round %d, owner %s", name, p, ok, stateRound(name), stateOwner(name))
	}
	if RedactURL("nats://user:secret@host:4222") != "nats://***@host:4222" || RedactURL("nats://host:4222") != "nats://host:4222" {
		t.Error("RedactURL")
	}
}
