package data

import (
	"context"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
)

// ComputeMean computes the per-element mean of every record of src, as
// Caffe's compute_image_mean does: a float32 running sum in record order
// divided by the count, returned as a BlobProto of shape 1 x C x H x W in
// the legacy num/channels/height/width fields Caffe writes. Encoded images
// are decoded with their own channels. All records must have one shape.
// The context is checked between records.
func ComputeMean(ctx context.Context, src Source) (*pb.BlobProto, error) {
	r := src.NewReader()
	defer r.Close()
	var ex Example
	var sum []float32
	var c, h, w int
	for i := 0; i < src.Len(); i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if err := r.Read(i, &ex); err != nil {
			return nil, err
		}
		if i == 0 {
			c, h, w = ex.C, ex.H, ex.W
			sum = make([]float32, c*h*w)
		} else if ex.C != c || ex.H != h || ex.W != w {
			return nil, fmt.Errorf("%s: record %d has shape %dx%dx%d, but record 0 has %dx%dx%d (the mean needs one shape)",
				src.Name(), i, ex.C, ex.H, ex.W, c, h, w)
		}
		if ex.U8 != nil {
			for j, v := range ex.U8[:len(sum)] {
				sum[j] += float32(v)
			}
		} else {
			for j, v := range ex.F32[:len(sum)] {
				sum[j] += v
			}
		}
	}
	if sum == nil {
		return nil, fmt.Errorf("%s: no records", src.Name())
	}
	n := float32(src.Len())
	for j := range sum {
		sum[j] /= n
	}
	one, cc, hh, ww := int32(1), int32(c), int32(h), int32(w)
	return &pb.BlobProto{Num: &one, Channels: &cc, Height: &hh, Width: &ww, Data: sum}, nil
}
