package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/sparknet/sparknet/data"
)

var convertImagesetFlags struct {
	backend                   string
	resizeHeight, resizeWidth int
	shuffle, gray, checkSize  bool
	encoded                   bool
	encodeType                string
	seed                      uint64
}

func init() {
	f := &convertImagesetFlags
	registerConverter(&converter{
		Name:      "imageset",
		UsageLine: "ROOT LIST OUT_DB [flags]",
		Short: "images listed in LIST (\"path label\" per line, paths relative to ROOT) to a Datum database,\n" +
			"      as convert_imageset: keys %08d_PATH, raw BGR (or gray) Datums or encoded ones",
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.backend, "backend", "lmdb", "database format: lmdb or leveldb")
			fs.IntVar(&f.resizeHeight, "resize_height", 0, "resize images to this height (with -resize_width)")
			fs.IntVar(&f.resizeWidth, "resize_width", 0, "resize images to this width (with -resize_height)")
			fs.BoolVar(&f.shuffle, "shuffle", false, "shuffle the list before writing")
			fs.Uint64Var(&f.seed, "seed", 0, "seed of -shuffle")
			fs.BoolVar(&f.gray, "gray", false, "read images in gray")
			fs.BoolVar(&f.checkSize, "check_size", false, "require all images to have the same size")
			fs.BoolVar(&f.encoded, "encoded", false, "store the encoded image files instead of raw pixels")
			fs.StringVar(&f.encodeType, "encode_type", "", "re-encode stored images as jpg or png (implies -encoded)")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := wantArgs(args, "ROOT", "LIST", "OUT_DB"); err != nil {
				return err
			}
			b, err := data.ParseBackend(f.backend)
			if err != nil {
				return err
			}
			written, skipped, err := data.ConvertImageset(ctx, args[0], args[1], args[2], data.ImagesetOptions{
				Backend: b, ResizeHeight: f.resizeHeight, ResizeWidth: f.resizeWidth,
				Shuffle: f.shuffle, Seed: f.seed, Gray: f.gray, CheckSize: f.checkSize,
				Encoded: f.encoded, EncodeType: f.encodeType,
				Warn: func(s string) { fmt.Fprintln(convertStderr, s) },
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(convertStderr, "Processed %d files: wrote %s (%v)", written, args[2], b)
			if skipped > 0 {
				fmt.Fprintf(convertStderr, "; skipped %d that could not be read", skipped)
			}
			fmt.Fprintln(convertStderr, ".")
			return nil
		},
	})
}
