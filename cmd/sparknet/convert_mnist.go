package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/sparknet/sparknet/data"
)

var convertMNISTFlags struct{ backend string }

func init() {
	registerConverter(&converter{
		Name:      "mnist",
		UsageLine: "IMAGES LABELS OUT_DB [-backend lmdb|leveldb]",
		Short: "MNIST-style IDX files (gzipped or not) to a Datum database, as convert_mnist_data:\n" +
			"      keys %08d, Datum 1 x rows x cols of raw pixels with the label",
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&convertMNISTFlags.backend, "backend", "lmdb", "database format: lmdb or leveldb")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := wantArgs(args, "IMAGES", "LABELS", "OUT_DB"); err != nil {
				return err
			}
			b, err := data.ParseBackend(convertMNISTFlags.backend)
			if err != nil {
				return err
			}
			n, err := data.ConvertMNIST(ctx, args[0], args[1], args[2], b)
			if err != nil {
				return err
			}
			fmt.Fprintf(convertStderr, "Processed %d files: wrote %s (%v).\n", n, args[2], b)
			return nil
		},
	})
}
