package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/parallel"
)

// specVersion is the version of the run specification; workers refuse
// others.
const specVersion = 1

// maxSpec bounds a run specification (the solver with its net inlined).
const maxSpec = 64 << 20

// runSpec is everything a worker needs to build the worker of any
// partition of a run: the solver with the train net inlined (so workers
// need not see the driver's prototxt files), the seed, the partition count,
// the parameter layout the driver expects, and the data files shipped
// through the object store.
type runSpec struct {
	Version    int    `json:"version"`
	Run        string `json:"run"`
	Solver     []byte `json:"solver"` // binary pb.SolverParameter
	Seed       int64  `json:"seed"`
	Partitions int    `json:"partitions"`
	// LayoutNames and LayoutCounts are the driver's parameter layout.
	LayoutNames  []string `json:"layout_names"`
	LayoutCounts []int    `json:"layout_counts"`
	// Data lists the data paths of the net that were shipped (-ship-data).
	Data []shippedPath `json:"data,omitempty"`
}

// shippedPath is one data path of the net (a source or mean file) and the
// files it consists of.
type shippedPath struct {
	// Path is the value in the net definition; Dir says whether it names a
	// directory (an LMDB or LevelDB database) or a file.
	Path  string        `json:"path"`
	Dir   bool          `json:"dir"`
	Files []shippedFile `json:"files"`
}

// shippedFile is one file of a shipped path, stored as the object
// data/<sha256>.
type shippedFile struct {
	Rel    string `json:"rel"` // relative to Path when Dir; "" otherwise
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// key identifies the content of a shipped path, for the workers' cache.
func (s shippedPath) key() string {
	h := sha256.New()
	for _, f := range s.Files {
		fmt.Fprintf(h, "%s\x00%s\x00", f.Rel, f.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// workerSolver returns the solver definition the workers run: the train net
// inlined as train_net_param, test nets and pretrained weights removed
// (workers only train; the driver broadcasts the weights), and, unless the
// data is shipped, relative data paths made absolute so that workers on a
// shared filesystem find them wherever they run.
func workerSolver(job parallel.Job, absData bool) (*pb.SolverParameter, error) {
	p := proto.Clone(job.Solver).(*pb.SolverParameter)
	// Resolve net files as the solver does: relative to the working
	// directory, else to the solver's directory.
	resolve := func(name string) string {
		if filepath.IsAbs(name) || job.SolverDir == "" {
			return name
		}
		if _, err := os.Stat(name); err == nil {
			return name
		}
		if alt := filepath.Join(job.SolverDir, name); fileExists(alt) {
			return alt
		}
		return name
	}
	if p.Net != nil {
		p.Net = proto.String(resolve(p.GetNet()))
	}
	if p.TrainNet != nil {
		p.TrainNet = proto.String(resolve(p.GetTrainNet()))
	}
	train, _, err := caffe.SolverNets(p)
	if err != nil {
		return nil, err
	}
	// SolverNets merged train_state into the net's state already.
	p.Net, p.NetParam, p.TrainNet, p.TrainState = nil, nil, nil, nil
	p.TestNet, p.TestNetParam, p.TestState, p.TestIter = nil, nil, nil, nil
	p.TestInterval = nil
	p.Weights = nil
	p.TrainNetParam = train
	if absData {
		var errs []error
		forEachDataPath(train, func(field *string, _ bool) {
			if *field == "" || filepath.IsAbs(*field) {
				return
			}
			if abs, err := filepath.Abs(*field); err == nil {
				*field = abs
			} else {
				errs = append(errs, err)
			}
		})
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// forEachDataPath calls fn for every file or directory a net's layers read
// (sources, mean files, root folders); shippable is false for those that
// name further files inside them (image lists, HDF5 lists, root folders),
// which -ship-data cannot carry.
func forEachDataPath(net *pb.NetParameter, fn func(field *string, shippable bool)) {
	visit := func(s **string, shippable bool) {
		if *s != nil {
			fn(*s, shippable)
		}
	}
	for _, l := range net.Layer {
		if dp := l.DataParam; dp != nil {
			visit(&dp.Source, true)
			visit(&dp.MeanFile, true)
		}
		if tp := l.TransformParam; tp != nil {
			visit(&tp.MeanFile, true)
		}
		if ip := l.ImageDataParam; ip != nil {
			visit(&ip.Source, false)
			visit(&ip.MeanFile, true)
			visit(&ip.RootFolder, false)
		}
		if hp := l.Hdf5DataParam; hp != nil {
			visit(&hp.Source, false)
		}
		if wp := l.WindowDataParam; wp != nil {
			visit(&wp.Source, false)
			visit(&wp.MeanFile, true)
		}
		if gp := l.InfogainLossParam; gp != nil {
			visit(&gp.Source, true)
		}
	}
}

// shipData stores the files of every data path of net in the object store
// (once: objects are named by content) and returns their list.
func shipData(ctx context.Context, st *store, net *pb.NetParameter) ([]shippedPath, error) {
	var paths []string
	var errs []error
	seen := map[string]bool{}
	forEachDataPath(net, func(field *string, shippable bool) {
		if *field == "" || seen[*field] {
			return
		}
		seen[*field] = true
		if !shippable {
			errs = append(errs, fmt.Errorf("-ship-data cannot carry %q: it lists further files; put the data on a filesystem every worker sees", *field))
			return
		}
		paths = append(paths, *field)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var out []shippedPath
	for _, p := range paths {
		sp, err := shipPath(ctx, st, p)
		if err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// shipPath stores one file, or every regular file under one directory.
func shipPath(ctx context.Context, st *store, path string) (shippedPath, error) {
	sp := shippedPath{Path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return sp, fmt.Errorf("-ship-data: %w", err)
	}
	var files []string
	if fi.IsDir() {
		sp.Dir = true
		err := filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return sp, fmt.Errorf("-ship-data: %w", err)
		}
		sort.Strings(files)
	} else {
		files = []string{path}
	}
	for _, f := range files {
		sum, size, err := hashFile(f)
		if err != nil {
			return sp, fmt.Errorf("-ship-data: %w", err)
		}
		rel := ""
		if sp.Dir {
			rel, _ = filepath.Rel(path, f)
			rel = filepath.ToSlash(rel)
		}
		sp.Files = append(sp.Files, shippedFile{Rel: rel, SHA256: sum, Size: size})
		name := dataObject(sum)
		if info, err := st.obs.GetInfo(ctx, name); err == nil && int64(info.Size) == size {
			continue // already there (an earlier run shipped it)
		}
		fh, err := os.Open(f)
		if err != nil {
			return sp, fmt.Errorf("-ship-data: %w", err)
		}
		_, err = st.putReader(ctx, name, fh)
		fh.Close()
		if err != nil {
			return sp, fmt.Errorf("-ship-data: %s: %w", f, err)
		}
	}
	return sp, nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// fetchData makes the shipped paths available under cacheDir (downloading
// what is not there yet) and returns the local path of each, keyed by the
// path in the net.
func fetchData(ctx context.Context, st *store, cacheDir string, data []shippedPath) (map[string]string, error) {
	local := map[string]string{}
	for _, sp := range data {
		root := filepath.Join(cacheDir, "data", sp.key())
		target := root
		if !sp.Dir {
			target = filepath.Join(root, "file")
		}
		if _, err := os.Stat(filepath.Join(root, ".complete")); err != nil {
			if err := os.MkdirAll(root, 0o700); err != nil {
				return nil, err
			}
			for _, f := range sp.Files {
				dst := target
				if sp.Dir {
					if !filepath.IsLocal(filepath.FromSlash(f.Rel)) {
						return nil, fmt.Errorf("shipped data %q: file name %q leaves its directory", sp.Path, f.Rel)
					}
					dst = filepath.Join(root, filepath.FromSlash(f.Rel))
					if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
						return nil, err
					}
				}
				if err := st.getFile(ctx, dataObject(f.SHA256), dst, f.Size, f.SHA256); err != nil {
					return nil, fmt.Errorf("shipped data %q: %w", sp.Path, err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, ".complete"), nil, 0o600); err != nil {
				return nil, err
			}
		}
		local[sp.Path] = target
	}
	return local, nil
}

// rewriteData points the net's data paths at their local copies.
func rewriteData(net *pb.NetParameter, local map[string]string) {
	forEachDataPath(net, func(field *string, _ bool) {
		if l, ok := local[*field]; ok {
			*field = l
		}
	})
}

// decodeSpec parses and checks a run specification.
func decodeSpec(b []byte, run string) (*runSpec, *pb.SolverParameter, error) {
	var s runSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, nil, fmt.Errorf("run spec: %w", err)
	}
	switch {
	case s.Version != specVersion:
		return nil, nil, fmt.Errorf("run spec version %d; this sparknet reads version %d (run the same sparknet version on driver and workers)", s.Version, specVersion)
	case s.Run != run:
		return nil, nil, fmt.Errorf("run spec is for run %q, not %q", s.Run, run)
	case s.Partitions < 1 || len(s.LayoutNames) != len(s.LayoutCounts):
		return nil, nil, errors.New("run spec: malformed")
	}
	var p pb.SolverParameter
	if err := proto.Unmarshal(s.Solver, &p); err != nil {
		return nil, nil, fmt.Errorf("run spec: solver: %w", err)
	}
	return &s, &p, nil
}
