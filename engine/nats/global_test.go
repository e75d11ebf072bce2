package nats

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/parallel"
)

func TestGlobalRoundTrip(t *testing.T) {
	l, err := parallel.NewLayout([]string{"a", "b"}, []int{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	w := []float32{1, -2.5, float32(math.Inf(1)), 3e-40, 0}
	h := []float32{7, 8}
	b := encodeGlobal(nil, "run-x", 3, 150, w, nil, l.Blobs(), h)
	if int64(len(b)) != globalSize("run-x", len(w), l.Blobs(), len(h), parallel.CodecNone) {
		t.Fatalf("%d bytes, globalSize says %d", len(b), globalSize("run-x", len(w), l.Blobs(), len(h), parallel.CodecNone))
	}
	gw, gh := make([]float32, len(w)), make([]float32, len(h))
	if upd, err := decodeGlobal(b, "run-x", 3, 150, l, parallel.CodecNone, gw, gh); err != nil || upd != nil {
		t.Fatal(upd, err)
	}
	for i := range w {
		if math.Float32bits(gw[i]) != math.Float32bits(w[i]) {
			t.Errorf("weight %d: %v, want %v", i, gw[i], w[i])
		}
	}
	if gh[0] != 7 || gh[1] != 8 {
		t.Errorf("history %v", gh)
	}
	// An int8 update and an fp16 one: decoded, checked, not applied.
	i8 := &parallel.Broadcast{Codec: parallel.CodecInt8, Int8: []int8{1, -127, 0, 5, 6}, Scales: []float32{0.5, 2}}
	f16 := &parallel.Broadcast{Codec: parallel.CodecFP16, Half: []uint16{0x3c00, 0xbc00, 0, 1, 0x7bff}}
	for _, upd := range []*parallel.Broadcast{i8, f16} {
		ub := encodeGlobal(make([]byte, 3), "run-x", 4, 160, w, upd, l.Blobs(), nil)
		if int64(len(ub)) != globalSize("run-x", len(w), l.Blobs(), 0, upd.Codec) || len(ub) >= len(b) {
			t.Fatalf("%s: %d bytes, globalSize says %d (whole: %d)", upd.Codec, len(ub), globalSize("run-x", len(w), l.Blobs(), 0, upd.Codec), len(b))
		}
		kept := []float32{9, 9, 9, 9, 9}
		got, err := decodeGlobal(ub, "run-x", 4, 160, l, upd.Codec, kept, nil)
		if err != nil {
			t.Fatalf("%s: %v", upd.Codec, err)
		}
		if !reflect.DeepEqual(got, upd) || kept[0] != 9 {
			t.Errorf("%s: decoded %+v, want %+v; weights %v untouched", upd.Codec, got, upd, kept)
		}
		// Expecting the weights whole, or another codec, fails.
		for _, c := range []parallel.Codec{parallel.CodecNone, parallel.CodecBF16} {
			if _, err := decodeGlobal(ub, "run-x", 4, 160, l, c, kept, nil); err == nil || !strings.Contains(err.Error(), "expected "+c.String()) {
				t.Errorf("%s blob read as %s: %v", upd.Codec, c, err)
			}
		}
	}
	// A bad scale fails the update's check.
	bad := *i8
	bad.Scales = []float32{float32(math.NaN()), 1}
	if _, err := decodeGlobal(encodeGlobal(nil, "run-x", 4, 160, w, &bad, l.Blobs(), nil), "run-x", 4, 160, l, parallel.CodecInt8, make([]float32, 5), nil); err == nil || !strings.Contains(err.Error(), "scale") {
		t.Errorf("NaN scale: %v", err)
	}
	other, _ := parallel.NewLayout([]string{"a"}, []int{4})
	for name, tc := range map[string]struct {
		b           []byte
		run         string
		round, iter int
		l           parallel.Layout
		nh          int
		want        string
	}{
		"other run":   {b, "run-y", 3, 150, l, 2, "of another run"},
		"other round": {b, "run-x", 4, 150, l, 2, "want round 4"},
		"other size":  {b, "run-x", 3, 150, other, 2, "values; want"},
		"no history":  {b, "run-x", 3, 150, l, 0, "values; want"},
		"flipped bit": {flip(b, 60), "run-x", 3, 150, l, 2, "checksum"},
		"truncated":   {b[:len(b)-1], "run-x", 3, 150, l, 2, "checksum"},
	} {
		_, err := decodeGlobal(tc.b, tc.run, tc.round, tc.iter, tc.l, parallel.CodecNone, make([]float32, tc.l.Len()), make([]float32, tc.nh))
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
