package data

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Converters write Caffe-compatible Datum databases, record for record
// what Caffe's tools write (keys, Datum fields and their serialization),
// so Caffe itself can train on them.

// ConvertMNIST writes an IDX image file and its IDX label file as Caffe's
// convert_mnist_data does: keys "%08d" of the image index, Datum{channels
// 1, height rows, width cols, data = raw pixels, label}. It returns the
// number of records written.
func ConvertMNIST(ctx context.Context, images, labels, out string, b Backend) (int, error) {
	idims, pix, err := ReadIDX(images)
	if err != nil {
		return 0, err
	}
	ldims, lab, err := ReadIDX(labels)
	if err != nil {
		return 0, err
	}
	if len(idims) != 3 {
		return 0, fmt.Errorf("%s: image file has dimensions %v, want N x rows x cols", images, idims)
	}
	if len(ldims) != 1 {
		return 0, fmt.Errorf("%s: label file has dimensions %v, want N", labels, ldims)
	}
	n, rows, cols := idims[0], idims[1], idims[2]
	if ldims[0] != n {
		return 0, fmt.Errorf("%s has %d images but %s has %d labels", images, n, labels, ldims[0])
	}
	w, err := CreateDB(b, out)
	if err != nil {
		return 0, err
	}
	d := Datum{Channels: 1, Height: rows, Width: cols}
	var val []byte
	key := make([]byte, 0, 16)
	per := rows * cols
	for i := 0; i < n; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			w.Abort()
			return 0, ctx.Err()
		}
		d.Data = pix[i*per : (i+1)*per]
		d.Label = int32(lab[i])
		val = d.AppendMarshal(val[:0])
		key = fmt.Appendf(key[:0], "%08d", i)
		if err := w.Put(key, val); err != nil {
			w.Abort()
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return n, nil
}

// ConvertCIFAR10 converts the CIFAR-10 binary batches in dir as Caffe's
// convert_cifar_data does: out/cifar10_train_<backend> from data_batch_1..5
// (keys "%05d" of the running index) and out/cifar10_test_<backend> from
// test_batch.bin (keys "%05d"), Datum{3, 32, 32, data = RGB planes as in
// the file, label}. It returns the train and test counts.
func ConvertCIFAR10(ctx context.Context, dir, out string, b Backend) (train, test int, err error) {
	var trainFiles []string
	for i := 1; i <= 5; i++ {
		trainFiles = append(trainFiles, filepath.Join(dir, fmt.Sprintf("data_batch_%d.bin", i)))
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return 0, 0, err
	}
	train, err = convertCIFARFiles(ctx, trainFiles, filepath.Join(out, "cifar10_train_"+b.String()), b)
	if err != nil {
		return 0, 0, err
	}
	test, err = convertCIFARFiles(ctx, []string{filepath.Join(dir, "test_batch.bin")}, filepath.Join(out, "cifar10_test_"+b.String()), b)
	return train, test, err
}

func convertCIFARFiles(ctx context.Context, files []string, out string, b Backend) (int, error) {
	w, err := CreateDB(b, out)
	if err != nil {
		return 0, err
	}
	d := Datum{Channels: 3, Height: CIFARSide, Width: CIFARSide}
	var val []byte
	key := make([]byte, 0, 16)
	n := 0
	for _, f := range files {
		batch, err := ReadCIFAR10(f)
		if err != nil {
			w.Abort()
			return 0, err
		}
		for i := 0; i < batch.N; i++ {
			if ctx.Err() != nil {
				w.Abort()
				return 0, ctx.Err()
			}
			d.Data = batch.Image(i)
			d.Label = int32(batch.Labels[i])
			val = d.AppendMarshal(val[:0])
			key = fmt.Appendf(key[:0], "%05d", n)
			if err := w.Put(key, val); err != nil {
				w.Abort()
				return 0, err
			}
			n++
		}
	}
	return n, w.Close()
}

// ImagesetOptions are convert_imageset's flags.
type ImagesetOptions struct {
	Backend Backend
	// ResizeHeight and ResizeWidth resize every image (both must be > 0).
	ResizeHeight, ResizeWidth int
	// Shuffle shuffles the list (with Seed) before writing.
	Shuffle bool
	Seed    uint64
	// Gray reads images in gray instead of color.
	Gray bool
	// Encoded stores encoded images; EncodeType ("jpg", "png") re-encodes
	// them (it implies Encoded), else the file's own bytes are stored when
	// they already match (no resize, right channels) or its extension's
	// format is used.
	Encoded    bool
	EncodeType string
	// CheckSize requires all images to have the same size.
	CheckSize bool
	// Warn receives one line per image that could not be read; such
	// images are skipped, as Caffe skips them.
	Warn func(string)
}

// ConvertImageset converts the images of a list file ("path label" per
// line, paths relative to root, which is prefixed as Caffe does) as
// convert_imageset does: keys "%08d_%s" of the line index (after the
// shuffle) and the path; raw Datums in BGR (or gray) with encoded=false,
// or encoded Datums with only data, label and encoded=true. It returns the
// number written and the number skipped.
func ConvertImageset(ctx context.Context, root, list, out string, o ImagesetOptions) (written, skipped int, err error) {
	lines, err := ReadList(list)
	if err != nil {
		return 0, 0, err
	}
	if o.Shuffle {
		r := rand.New(rand.NewPCG(o.Seed, 0x5eed))
		r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	}
	if (o.ResizeHeight > 0) != (o.ResizeWidth > 0) {
		return 0, 0, fmt.Errorf("-resize_height %d and -resize_width %d: set both or neither", o.ResizeHeight, o.ResizeWidth)
	}
	if o.EncodeType != "" {
		o.Encoded = true
	}
	warn := o.Warn
	if warn == nil {
		warn = func(string) {}
	}
	w, err := CreateDB(o.Backend, out)
	if err != nil {
		return 0, 0, err
	}
	mode := Color
	if o.Gray {
		mode = Gray
	}
	var img, tmp Image
	var d Datum
	var val []byte
	sizeSet := false
	var size int
	for id, e := range lines {
		if ctx.Err() != nil {
			w.Abort()
			return 0, 0, ctx.Err()
		}
		path := root + e.Path
		raw, rerr := os.ReadFile(path)
		if rerr == nil {
			rerr = DecodeImage(raw, mode, &tmp)
		}
		if rerr != nil {
			warn(fmt.Sprintf("%s:%d: skipping %s: %v", list, e.Line, path, rerr))
			skipped++
			continue
		}
		src := &tmp
		resized := o.ResizeHeight > 0
		if resized {
			ResizeBilinear(&tmp, o.ResizeHeight, o.ResizeWidth, &img)
			src = &img
		}
		d = Datum{Label: int32(e.Label)}
		if o.Encoded {
			enc := o.EncodeType
			if enc == "" {
				enc = strings.ToLower(strings.TrimPrefix(filepath.Ext(e.Path), "."))
			}
			if !resized && sameFormat(raw, enc) && (src.C == 3) == !o.Gray {
				d.Data = raw
			} else if d.Data, err = EncodeImage(src, enc); err != nil {
				w.Abort()
				return 0, 0, fmt.Errorf("%s:%d: %s: %w", list, e.Line, path, err)
			}
			d.Encoded = true
		} else {
			d.Channels, d.Height, d.Width = src.C, src.H, src.W
			d.Data, d.EncodedSet = src.Pix, true
			if o.CheckSize {
				if !sizeSet {
					size, sizeSet = len(src.Pix), true
				} else if len(src.Pix) != size {
					w.Abort()
					return 0, 0, fmt.Errorf("%s:%d: %s has %d bytes (%s), the first image %d (-check_size)", list, e.Line, path, len(src.Pix), src.Shape(), size)
				}
			}
		}
		val = d.AppendMarshal(val[:0])
		key := fmt.Sprintf("%08d_%s", id, e.Path)
		if err := w.Put([]byte(key), val); err != nil {
			w.Abort()
			return 0, 0, err
		}
		written++
	}
	if err := w.Close(); err != nil {
		return 0, 0, err
	}
	return written, skipped, nil
}

// sameFormat reports whether the file bytes are in the format named by
// ext, judged from their signature.
func sameFormat(b []byte, ext string) bool {
	switch ext {
	case "jpg", "jpeg":
		return len(b) > 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff
	case "png":
		return len(b) > 8 && string(b[1:4]) == "PNG"
	case "gif":
		return len(b) > 6 && string(b[:3]) == "GIF"
	case "bmp":
		return len(b) > 2 && string(b[:2]) == "BM"
	}
	return false
}
