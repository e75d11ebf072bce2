package nats

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestBlobStore stores blobs of one and of many chunks in a real stream and
// reads them back, with size limits, replacement, existence, deletion and
// purging.
func TestBlobStore(t *testing.T) {
	srv, err := StartServer(ServerConfig{StoreDir: filepath.Join(t.TempDir(), "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conn, err := srv.Connect("blob test")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "B", Subjects: []string{"b.>"},
		Storage: jetstream.MemoryStorage, AllowDirect: true}); err != nil {
		t.Fatal(err)
	}
	bs, err := newBlobStore(ctx, js, conn, "B", "b.")
	if err != nil {
		t.Fatal(err)
	}
	bs.chunk = 1000 // many chunks for the larger blobs
	r := rand.New(rand.NewPCG(1, 2))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	blobs := map[string][]byte{"w/1": blob(10), "d/1/0/w-a": blob(1000), "d/1/1/w-b": blob(1001), "s/2/7/w_c": blob(9876), "empty": nil}
	for name, b := range blobs {
		if n, err := bs.put(ctx, name, b); err != nil || n != int64(len(b)) {
			t.Fatalf("put %s: %d, %v", name, n, err)
		}
	}
	for name, b := range blobs {
		got, err := bs.get(ctx, name, 0, 0)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("get %s: %d bytes (want %d), %v", name, len(got), len(b), err)
		}
		if ok, err := bs.exists(ctx, name); !ok || err != nil {
			t.Errorf("exists %s: %v, %v", name, ok, err)
		}
	}
	// Sizes are checked before the other chunks are read.
	if _, err := bs.get(ctx, "s/2/7/w_c", 9875, 0); !errors.Is(err, errTooLarge) {
		t.Errorf("a blob of the wrong size: %v", err)
	}
	if _, err := bs.get(ctx, "s/2/7/w_c", 0, 9000); !errors.Is(err, errTooLarge) {
		t.Errorf("a blob over the limit: %v", err)
	}
	if _, err := bs.get(ctx, "w/2", 0, 0); !errors.Is(err, errNotFound) {
		t.Errorf("a missing blob: %v", err)
	}
	// Stored again (a retry), a blob is the new one.
	again := blob(4321)
	if _, err := bs.put(ctx, "s/2/7/w_c", again); err != nil {
		t.Fatal(err)
	}
	if got, err := bs.get(ctx, "s/2/7/w_c", int64(len(again)), 0); err != nil || !bytes.Equal(got, again) {
		t.Fatalf("the blob stored again: %d bytes, %v", len(got), err)
	}
	if err := bs.del(ctx, "s/2/7/w_c"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := bs.exists(ctx, "s/2/7/w_c"); ok {
		t.Error("a deleted blob exists")
	}
	if _, err := bs.get(ctx, "s/2/7/w_c", 0, 0); !errors.Is(err, errNotFound) {
		t.Errorf("a deleted blob: %v", err)
	}
	if got, err := bs.get(ctx, "d/1/1/w-b", 0, 0); err != nil || !bytes.Equal(got, blobs["d/1/1/w-b"]) {
		t.Errorf("deleting one blob touched another: %v", err)
	}
	if err := bs.purge(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.get(ctx, "w/1", 0, 0); !errors.Is(err, errNotFound) {
		t.Errorf("a purged blob: %v", err)
	}
	if bs.read.Load() == 0 || bs.written.Load() == 0 {
		t.Error("no bytes counted")
	}
}
