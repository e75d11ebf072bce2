package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/sparknet/sparknet/data"
)

var convertCIFARFlags struct{ backend string }

func init() {
	registerConverter(&converter{
		Name:      "cifar10",
		UsageLine: "DIR OUT_DIR [-backend lmdb|leveldb]",
		Short: "CIFAR-10 binary batches in DIR to OUT_DIR/cifar10_{train,test}_BACKEND, as convert_cifar_data:\n" +
			"      keys %05d, Datum 3 x 32 x 32 (RGB planes, as in the files) with the label",
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&convertCIFARFlags.backend, "backend", "lmdb", "database format: lmdb or leveldb")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := wantArgs(args, "DIR", "OUT_DIR"); err != nil {
				return err
			}
			b, err := data.ParseBackend(convertCIFARFlags.backend)
			if err != nil {
				return err
			}
			train, test, err := data.ConvertCIFAR10(ctx, args[0], args[1], b)
			if err != nil {
				return err
			}
			fmt.Fprintf(convertStderr, "Wrote %d training images to %s and %d test images to %s.\n",
				train, filepath.Join(args[1], "cifar10_train_"+b.String()), test, filepath.Join(args[1], "cifar10_test_"+b.String()))
			return nil
		},
	})
}
