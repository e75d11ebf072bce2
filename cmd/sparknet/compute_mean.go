package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/data"
)

var computeMeanFlags struct{ backend string }

var computeMeanCommand = &Command{
	Name:      "compute-mean",
	UsageLine: "[-backend lmdb|leveldb] DB [OUT.binaryproto]",
	Short:     "compute the mean image of a Datum database",
	Long: `Compute-mean computes the per-element mean of every record of a Datum
database as Caffe's compute_image_mean does (float32 running sum divided by
the count; encoded images decoded with their own channels) and writes it as
a BlobProto of shape 1 x C x H x W, the mean_file of transform_param. It
also prints the mean of each channel.`,
	SetFlags: func(fs *flag.FlagSet) {
		fs.StringVar(&computeMeanFlags.backend, "backend", "lmdb", "database format: lmdb or leveldb")
	},
}

func init() {
	computeMeanCommand.Run = runComputeMean
	register(computeMeanCommand)
}

func runComputeMean(ctx context.Context, args []string) error {
	// Accept flags after the arguments too (Caffe's tools take them anywhere).
	args, err := parseInterspersed(computeMeanCommand.Flags, args)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	if len(args) < 1 || len(args) > 2 {
		return fmt.Errorf("want DB [OUT.binaryproto]: %w", errUsage)
	}
	b, err := data.ParseBackend(computeMeanFlags.backend)
	if err != nil {
		return err
	}
	src, err := data.OpenDatumSource(b, args[0], data.Native)
	if err != nil {
		return err
	}
	defer src.Close()
	mean, err := data.ComputeMean(ctx, src)
	if err != nil {
		return err
	}
	if len(args) == 2 {
		if err := caffe.WriteBinary(args[1], mean); err != nil {
			return err
		}
	}
	c, plane := int(mean.GetChannels()), int(mean.GetHeight()*mean.GetWidth())
	fmt.Fprintf(convertStderr, "Processed %d records of %dx%dx%d.\nNumber of channels: %d\n", src.Len(), c, mean.GetHeight(), mean.GetWidth(), c)
	for i := 0; i < c; i++ {
		var s float64
		for _, v := range mean.Data[i*plane : (i+1)*plane] {
			s += float64(v)
		}
		fmt.Fprintf(convertStderr, "Mean value of channel %d: %g\n", i, s/float64(plane))
	}
	return nil
}
