package nats

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/nats-io/nats.go/jetstream"
)

// Status is what a server holds about sparknet: its workers and runs.
type Status struct {
	Workers []WorkerInfo `json:"workers"`
	Runs    []RunInfo    `json:"runs"`
}

// ReadStatus connects to url and reads the workers and runs buckets.
func ReadStatus(ctx context.Context, url string, sec Security) (*Status, error) {
	conn, err := Connect(url, "sparknet status", sec)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		return nil, err
	}
	st := &Status{}
	if err := readBucket(ctx, js, workersBucket, func(b []byte) error {
		var w WorkerInfo
		if err := decodeJSON(b, &w); err != nil {
			return err
		}
		st.Workers = append(st.Workers, w)
		return nil
	}); err != nil {
		return nil, err
	}
	if err := readBucket(ctx, js, runsBucket, func(b []byte) error {
		var r RunInfo
		if err := decodeJSON(b, &r); err != nil {
			return err
		}
		st.Runs = append(st.Runs, r)
		return nil
	}); err != nil {
		return nil, err
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].Name < st.Workers[j].Name })
	sort.Slice(st.Runs, func(i, j int) bool { return st.Runs[i].Started.Before(st.Runs[j].Started) })
	return st, nil
}

// readBucket calls fn with the value of every key of a KV bucket; a missing
// bucket is empty.
func readBucket(ctx context.Context, js jetstream.JetStream, bucket string, fn func([]byte) error) error {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucket, err)
	}
	for k := range keys.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // expired meanwhile
		}
		if err := fn(e.Value()); err != nil {
			return fmt.Errorf("bucket %s key %s: %w", bucket, k, err)
		}
	}
	return nil
}
