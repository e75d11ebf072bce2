//go:build !noasm

package layers

//go:noescape
func poolMaxPlaneAVX512(y, x *float32, mask *int32, geom *poolGeom)

//go:noescape
func poolAvePlaneAVX512(y, x *float32, geom *poolGeom)

// poolKernelsOK reports whether the AVX-512 pooling kernels may run.
func poolKernelsOK() bool { return rows512 }

// poolMaxPlane max-pools the plane x into y and mask (see poolGeom).
func poolMaxPlane(y, x []float32, mask []int32, g *poolGeom) {
	_ = y[g.oh*g.ow-1]
	_ = mask[g.oh*g.ow-1]
	_ = x[len(x)-1]
	if len(x) < (g.rowHi[g.oh-1]-1)*g.w+g.w || len(g.tab) < g.nchunk*g.kw {
		panic("layers: poolMaxPlane: plane or tables too short")
	}
	poolMaxPlaneAVX512(&y[0], &x[0], &mask[0], g)
}

// poolAvePlane average-pools the plane x into y (see poolGeom).
func poolAvePlane(y, x []float32, g *poolGeom) {
	_ = y[g.oh*g.ow-1]
	_ = x[len(x)-1]
	if len(x) < (g.rowHi[g.oh-1]-1)*g.w+g.w || len(g.tab) < g.nchunk*g.kw || len(g.div) < g.oh*g.nchunk*16 {
		panic("layers: poolAvePlane: plane or tables too short")
	}
	poolAvePlaneAVX512(&y[0], &x[0], g)
}

//go:noescape
func poolAveBackAVX512(dx, dy, gs *float32, geom *poolBackGeom)

// poolAveBack computes the average-pooling gradient dx of one plane from
// dy, with gs (oh*ow values) as scratch (see poolBackGeom).
func poolAveBack(dx, dy, gs []float32, g *poolBackGeom) {
	_ = dx[g.h*g.w-1]
	_ = dy[g.oh*g.ow-1]
	_ = gs[g.oh*g.ow-1]
	if len(g.div) < g.oh*g.ochunk*16 || len(g.idx) < g.nchunk*g.t*16 || len(g.mask) < g.nchunk*g.t {
		panic("layers: poolAveBack: tables too short")
	}
	poolAveBackAVX512(&dx[0], &dy[0], &gs[0], g)
}
