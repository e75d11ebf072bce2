package nats

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// chunkFor returns the object chunk size for a connection: large chunks
// mean fewer messages (and acknowledgements) per megabyte, up to 4 MiB and
// within the server's max_payload (the embedded server's is 8 MiB, a
// default server's 1 MiB).
func chunkFor(conn *nc.Conn) int {
	c := min(int64(4<<20), conn.MaxPayload()-16<<10)
	return int(max(c, 64<<10))
}

// blobChunk returns the chunk size of blobs for a connection: as large as
// the server's max_payload allows (with room for headers), up to 16 MiB, so
// that a model of a few million parameters travels as one message.
func blobChunk(conn *nc.Conn) int {
	c := min(int64(16<<20), conn.MaxPayload()-64<<10)
	return int(max(c, 64<<10))
}

// store wraps a run's object store (specification, shipped data) with size
// limits and byte counters.
type store struct {
	obs   jetstream.ObjectStore
	chunk int
	// read and written count payload bytes through this store.
	read, written atomic.Int64
}

// put stores data under name.
func (s *store) put(ctx context.Context, name string, data []byte) (int64, error) {
	meta := jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: uint32(s.chunk)}}
	info, err := s.obs.Put(ctx, meta, bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("storing %s: %w", name, err)
	}
	s.written.Add(int64(info.Size))
	return int64(info.Size), nil
}

// errTooLarge is returned for an object over the caller's size limit.
var errTooLarge = errors.New("object too large")

// get fetches the object name, refusing one larger than limit bytes (or,
// when want > 0, one whose size is not exactly want) before reading it.
func (s *store) get(ctx context.Context, name string, want, limit int64) ([]byte, error) {
	res, err := s.obs.Get(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	size := int64(info.Size)
	switch {
	case want > 0 && size != want:
		return nil, fmt.Errorf("fetching %s: %d bytes, expected %d: %w", name, size, want, errTooLarge)
	case limit > 0 && size > limit:
		return nil, fmt.Errorf("fetching %s: %d bytes, more than the limit %d: %w", name, size, limit, errTooLarge)
	}
	buf := make([]byte, size)
	if _, err := io.ReadFull(res, buf); err != nil {
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	// Reading to EOF checks the digest.
	if n, err := res.Read(make([]byte, 1)); n != 0 || (err != nil && err != io.EOF) {
		if err == nil {
			err = errors.New("longer than its size")
		}
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	s.read.Add(size)
	return buf, nil
}

// del removes an object; a missing one is not an error.
func (s *store) del(ctx context.Context, name string) error {
	err := s.obs.Delete(ctx, name)
	if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// putReader stores what r yields under name.
func (s *store) putReader(ctx context.Context, name string, r io.Reader) (int64, error) {
	meta := jetstream.ObjectMeta{Name: name, Opts: &jetstream.ObjectMetaOptions{ChunkSize: uint32(s.chunk)}}
	info, err := s.obs.Put(ctx, meta, r)
	if err != nil {
		return 0, fmt.Errorf("storing %s: %w", name, err)
	}
	s.written.Add(int64(info.Size))
	return int64(info.Size), nil
}

// getFile downloads the object name to the file dst (through a temporary
// file renamed into place), checking its size and SHA-256.
func (s *store) getFile(ctx context.Context, name, dst string, size int64, sum string) (err error) {
	res, err := s.obs.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("fetching %s: %w", name, err)
	}
	defer res.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".fetch-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(res, size+1))
	if err != nil {
		return fmt.Errorf("fetching %s: %w", name, err)
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("fetching %s: got %d bytes with another checksum than the %d shipped", name, n, size)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	s.read.Add(n)
	return os.Rename(tmp.Name(), dst)
}
