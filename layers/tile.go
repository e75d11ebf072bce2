package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Tile", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		tp := p.GetTileParam()
		if tp == nil || tp.Tiles == nil {
			return nil, errors.New("number of tiles must be specified (tile_param.tiles)")
		}
		if tp.GetTiles() <= 0 {
			return nil, fmt.Errorf("number of tiles must be positive, got %d", tp.GetTiles())
		}
		return &Tile{axis: int(tp.GetAxis()), tiles: int(tp.GetTiles())}, nil
	})
}

// Tile repeats its bottom tile_param.tiles times along tile_param.axis
// (default 1): each block of axes [axis, end) is copied tiles times in a
// row.
type Tile struct {
	axis, tiles  int
	outer, inner int
	shape        []int // scratch for the top shape
}

// Type returns "Tile".
func (l *Tile) Type() string { return "Tile" }

// Arity is one bottom and one top.
func (l *Tile) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *Tile) Params() []*tensor.Blob { return nil }

// Setup has nothing to check beyond Reshape's checks.
func (l *Tile) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape sizes the top.
func (l *Tile) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	axis, err := b.CheckAxis(l.axis)
	if err != nil {
		return fmt.Errorf("tile_param.axis: %w", err)
	}
	l.shape = append(l.shape[:0], b.Shape()...)
	l.shape[axis] *= l.tiles
	top[0].Reshape(l.shape...)
	l.outer, l.inner = b.CountRange(0, axis), b.CountFrom(axis)
	return nil
}

// Forward copies each block tiles times.
func (l *Tile) Forward(bottom, top []*tensor.Blob) {
	x, y := bottom[0].Data, top[0].Data
	n := l.inner
	for i := 0; i < l.outer; i++ {
		src := x[i*n : (i+1)*n]
		for t := 0; t < l.tiles; t++ {
			o := (i*l.tiles + t) * n
			copy(y[o:o+n], src)
		}
	}
}

// Backward sums the gradients of the copies, in order.
func (l *Tile) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	dy, dx := top[0].Diff, bottom[0].Diff
	n := l.inner
	for i := 0; i < l.outer; i++ {
		d := dx[i*n : (i+1)*n]
		o := i * l.tiles * n
		copy(d, dy[o:o+n])
		for t := 1; t < l.tiles; t++ {
			g := dy[o+t*n : o+(t+1)*n]
			g = g[:len(d)]
			for k, v := range g {
				d[k] += v
			}
		}
	}
}
