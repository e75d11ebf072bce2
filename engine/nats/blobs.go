package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A blob store keeps named byte strings as messages of a JetStream stream
// read by direct get: the megabytes of a round (global weights, deltas) and
// the partition states. A blob is the messages on the subject
// <prefix><name> ('/' in the name becomes '.'), each a chunk of at most the
// store's chunk size with the header
//
//	Sparknet-Chunk: <index>/<chunks>/<total size>
//
// and, on the last chunk of a blob of several, Sparknet-Seqs: the stream
// sequences of the others. A reader fetches the last message of the subject
// (one request) and, for a large blob, the other chunks by sequence, in
// parallel. Unlike JetStream's object store there is no per-object SHA-256,
// metadata message or ordered consumer: every blob this package stores
// carries its own CRC-32C, checked by its decoder, and a blob is written
// once under its name (a name is unique per round, partition and worker).
// A blob written again (a retry) replaces the old one for readers, which
// read the last chunk's sequences.
type blobStore struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	prefix string
	chunk  int
	// read and written count payload bytes through this store.
	read, written atomic.Int64
}

const (
	chunkHeader = "Sparknet-Chunk"
	seqsHeader  = "Sparknet-Seqs"
	// blobParallel bounds the chunks of one blob in flight at once.
	blobParallel = 4
)

// errNotFound is returned for a blob that does not exist.
var errNotFound = errors.New("not found")

// newBlobStore returns the store of the stream named stream (which must
// allow direct get) under the subject prefix.
func newBlobStore(ctx context.Context, js jetstream.JetStream, conn *nc.Conn, stream, prefix string) (*blobStore, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	if !s.CachedInfo().Config.AllowDirect {
		return nil, fmt.Errorf("stream %s does not allow direct get", stream)
	}
	return &blobStore{js: js, stream: s, prefix: prefix, chunk: blobChunk(conn)}, nil
}

// subject returns the subject of blob name.
func (s *blobStore) subject(name string) string {
	return s.prefix + strings.ReplaceAll(name, "/", ".")
}

// put stores data under name and returns its size once every chunk is
// stored.
func (s *blobStore) put(ctx context.Context, name string, data []byte) (int64, error) {
	subj := s.subject(name)
	n := max(1, (len(data)+s.chunk-1)/s.chunk)
	chunk := func(i int) *nc.Msg {
		lo, hi := i*s.chunk, min((i+1)*s.chunk, len(data))
		m := nc.NewMsg(subj)
		m.Data = data[lo:hi]
		m.Header.Set(chunkHeader, strconv.Itoa(i)+"/"+strconv.Itoa(n)+"/"+strconv.Itoa(len(data)))
		return m
	}
	var seqs []string
	if n > 1 {
		seqs = make([]string, n-1)
		if err := parallelDo(ctx, n-1, func(ctx context.Context, i int) error {
			ack, err := s.js.PublishMsg(ctx, chunk(i))
			if err != nil {
				return err
			}
			seqs[i] = strconv.FormatUint(ack.Sequence, 10)
			return nil
		}); err != nil {
			return 0, fmt.Errorf("storing %s: %w", name, err)
		}
	}
	last := chunk(n - 1)
	if n > 1 {
		last.Header.Set(seqsHeader, strings.Join(seqs, ","))
	}
	if _, err := s.js.PublishMsg(ctx, last); err != nil {
		return 0, fmt.Errorf("storing %s: %w", name, err)
	}
	s.written.Add(int64(len(data)))
	return int64(len(data)), nil
}

// get fetches the blob name, refusing one larger than limit bytes (or,
// when want > 0, one whose size is not exactly want) before reading more
// than its last chunk. A missing blob is an error wrapping errNotFound.
func (s *blobStore) get(ctx context.Context, name string, want, limit int64) ([]byte, error) {
	subj := s.subject(name)
	last, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("fetching %s: %w", name, errNotFound)
		}
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	i, n, size, err := parseChunk(last.Header.Get(chunkHeader))
	switch {
	case err != nil || i != n-1:
		return nil, fmt.Errorf("fetching %s: bad chunk header %q", name, last.Header.Get(chunkHeader))
	case want > 0 && size != want:
		return nil, fmt.Errorf("fetching %s: %d bytes, expected %d: %w", name, size, want, errTooLarge)
	case limit > 0 && size > limit:
		return nil, fmt.Errorf("fetching %s: %d bytes, more than the limit %d: %w", name, size, limit, errTooLarge)
	}
	if n == 1 {
		if int64(len(last.Data)) != size {
			return nil, fmt.Errorf("fetching %s: %d bytes, its header says %d", name, len(last.Data), size)
		}
		s.read.Add(size)
		return last.Data, nil
	}
	seqs := strings.Split(last.Header.Get(seqsHeader), ",")
	if len(seqs) != n-1 {
		return nil, fmt.Errorf("fetching %s: %d chunk sequences for %d chunks", name, len(seqs), n)
	}
	buf := make([]byte, size)
	var mu sync.Mutex
	filled := int64(0)
	place := func(i int, p []byte) error {
		// Chunks before the last are full; the last holds the rest.
		lo := int64(i) * int64(len(p))
		if i == n-1 {
			lo = size - int64(len(p))
		}
		if lo < 0 || lo+int64(len(p)) > size {
			return fmt.Errorf("fetching %s: chunk %d of %d bytes does not fit %d", name, i, len(p), size)
		}
		copy(buf[lo:], p)
		mu.Lock()
		filled += int64(len(p))
		mu.Unlock()
		return nil
	}
	if err := place(n-1, last.Data); err != nil {
		return nil, err
	}
	chunkLen := -1
	err = parallelDo(ctx, n-1, func(ctx context.Context, k int) error {
		seq, err := strconv.ParseUint(seqs[k], 10, 64)
		if err != nil {
			return fmt.Errorf("bad chunk sequence %q", seqs[k])
		}
		m, err := s.stream.GetMsg(ctx, seq)
		if err != nil {
			return err
		}
		j, nn, sz, err := parseChunk(m.Header.Get(chunkHeader))
		if err != nil || m.Subject != subj || j != k || nn != n || sz != size {
			return fmt.Errorf("message %d is not chunk %d of this blob", seq, k)
		}
		mu.Lock()
		if chunkLen < 0 {
			chunkLen = len(m.Data)
		}
		same := chunkLen == len(m.Data)
		mu.Unlock()
		if !same {
			return errors.New("chunks of different sizes")
		}
		return place(k, m.Data)
	})
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", name, err)
	}
	if filled != size {
		return nil, fmt.Errorf("fetching %s: %d of %d bytes", name, filled, size)
	}
	s.read.Add(size)
	return buf, nil
}

// parseChunk reads a chunk header: index, chunks, total size.
func parseChunk(h string) (i, n int, size int64, err error) {
	f := strings.Split(h, "/")
	if len(f) != 3 {
		return 0, 0, 0, errors.New("malformed")
	}
	i, err1 := strconv.Atoi(f[0])
	n, err2 := strconv.Atoi(f[1])
	size, err3 := strconv.ParseInt(f[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil || n < 1 || i < 0 || i >= n || size < 0 {
		return 0, 0, 0, errors.New("malformed")
	}
	return i, n, size, nil
}

// exists reports whether the blob name is stored.
func (s *blobStore) exists(ctx context.Context, name string) (bool, error) {
	subj := s.subject(name)
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return false, err
	}
	return info.State.Subjects[subj] > 0, nil
}

// del removes a blob; a missing one is not an error.
func (s *blobStore) del(ctx context.Context, name string) error {
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(s.subject(name))); err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// purge removes every blob.
func (s *blobStore) purge(ctx context.Context) error {
	return s.stream.Purge(ctx)
}

// parallelDo runs f(ctx, 0..n-1), at most blobParallel at once, and returns
// the first error (cancelling the others).
func parallelDo(ctx context.Context, n int, f func(context.Context, int) error) error {
	if n == 1 {
		return f(ctx, 0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, blobParallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(ctx, i); err != nil {
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return context.Cause(ctx)
}
