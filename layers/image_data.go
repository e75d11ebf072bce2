package layers

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("ImageData", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ip := p.GetImageDataParam()
		if ip.GetSource() == "" {
			return nil, errors.New("image_data_param.source is empty")
		}
		if ip.GetBatchSize() == 0 {
			return nil, errors.New("image_data_param.batch_size must be positive")
		}
		if (ip.GetNewHeight() == 0) != (ip.GetNewWidth() == 0) {
			return nil, fmt.Errorf("image_data_param: new_height %d and new_width %d must be set together", ip.GetNewHeight(), ip.GetNewWidth())
		}
		if ctx == nil {
			ctx = NewContext(pb.Phase_TRAIN, 0)
		}
		return &ImageData{prefetching: prefetching{typ: "ImageData"}, p: p, ctx: ctx}, nil
	})
}

// ImageData is Caffe's ImageDataLayer: it reads the images listed in a
// text file ("path label" per line, image_data_param.source), from
// root_folder, in color or gray (is_color), resized to new_height x
// new_width when set (bilinear, as OpenCV's INTER_LINEAR), transforms them
// (transform_param) and outputs batches and their labels.
//
// With shuffle, every epoch visits the list (or, in TRAIN on worker Shard
// of Shards, its strided shard) in a new order drawn from (seed, shard,
// epoch); without, in file order. rand_skip starts at a reproducible
// random offset below it. Batches are prefetched in the background and the
// position is saved and restored as with Data.
type ImageData struct {
	prefetching
	p   *pb.LayerParameter
	ctx *Context
}

// Type returns "ImageData".
func (l *ImageData) Type() string { return "ImageData" }

// Arity is no bottom, and data and label tops.
func (l *ImageData) Arity() Arity { return Exact(0, 2) }

// Setup reads the list, checks the first image and starts prefetching.
func (l *ImageData) Setup(bottom, top []*tensor.Blob) error {
	ip := l.p.GetImageDataParam()
	tr, err := data.NewTransformer(l.p.GetTransformParam(), l.ctx.Phase)
	if err != nil {
		return err
	}
	src, err := data.OpenListSource(ip.GetSource(), ip.GetRootFolder(), int(ip.GetNewHeight()), int(ip.GetNewWidth()), ip.GetIsColor())
	if err != nil {
		return fmt.Errorf("image_data_param.source: %w", err)
	}
	shard, err := shardFor(src.Len(), l.ctx, data.Strided)
	if err != nil {
		src.Close()
		return fmt.Errorf("%s: %w", ip.GetSource(), err)
	}
	cfg := data.LoaderConfig{
		Source: src, Transformer: tr, BatchSize: int(ip.GetBatchSize()), Shard: shard,
		Shuffle: ip.GetShuffle(), Seed: l.ctx.Seed, Prefetch: int(l.p.GetDataParam().GetPrefetch()),
	}
	start := data.Position{Offset: randomSkip(l.ctx, shard, ip.GetRandSkip())}
	if err := l.start(cfg, start, top); err != nil {
		return err
	}
	runtime.AddCleanup(l, func(c *loaderCloser) { c.close() }, l.closer)
	return nil
}
