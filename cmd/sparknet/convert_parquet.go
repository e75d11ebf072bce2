package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/data/parquet"
)

var convertParquetFlags struct {
	backend                     string
	imageColumn, floatColumn    string
	labelColumn                 string
	channels, height, width     int
	compression                 string
	rowGroupRows, rowGroupBytes int
	fileRows                    int
}

func init() {
	f := &convertParquetFlags
	registerConverter(&converter{
		Name:      "parquet",
		UsageLine: "IN OUT [flags]",
		Short: "a Datum database (LMDB or LevelDB) to Parquet as Spark writes a DataFrame (a folder of\n" +
			"      part-*.parquet files and _SUCCESS), or Parquet (a file or folder) to a Datum database;\n" +
			"      the direction follows IN: a database folder, or Parquet",
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&f.backend, "backend", "lmdb", "format of the database written: lmdb or leveldb")
			fs.StringVar(&f.imageColumn, "image_column", "", "binary column of images (default \"image\")")
			fs.StringVar(&f.floatColumn, "float_column", "", "list<float> column of features (default \"features\" when writing features)")
			fs.StringVar(&f.labelColumn, "label_column", "label", "label column")
			fs.IntVar(&f.channels, "channels", 0, "shape of raw images or features in Parquet without sparknet.shape metadata")
			fs.IntVar(&f.height, "height", 0, "see -channels")
			fs.IntVar(&f.width, "width", 0, "see -channels")
			fs.StringVar(&f.compression, "compression", "snappy", "Parquet compression: snappy, gzip, zstd or none")
			fs.IntVar(&f.rowGroupRows, "row_group_rows", parquet.DefaultRowGroupRows, "rows per row group at most (row groups are what workers share out)")
			fs.IntVar(&f.rowGroupBytes, "row_group_bytes", parquet.DefaultRowGroupBytes, "bytes of data per row group at most")
			fs.IntVar(&f.fileRows, "file_rows", parquet.DefaultFileRows, "rows per part file at most (Spark's maxRecordsPerFile; -1: one file)")
		},
		Run: func(ctx context.Context, args []string) error {
			if err := wantArgs(args, "IN", "OUT"); err != nil {
				return err
			}
			in, out := args[0], args[1]
			if b, ok := datumDBBackend(in); ok {
				col := f.imageColumn
				if col == "" {
					col = f.floatColumn
				}
				w, err := parquet.FromDB(ctx, b, in, out, parquet.WriteOptions{
					DataColumn: col, LabelColumn: f.labelColumn, Compression: f.compression,
					RowGroupRows: f.rowGroupRows, RowGroupBytes: f.rowGroupBytes, FileRows: f.fileRows,
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(convertStderr, "Processed %d records of %s (%v): wrote %s (Parquet, %s, %d part files, %d row groups).\n",
					w.Rows, in, b, out, f.compression, w.Files, w.RowGroups)
				return nil
			}
			b, err := data.ParseBackend(f.backend)
			if err != nil {
				return err
			}
			n, err := parquet.ToDB(ctx, in, parquet.Options{
				ImageColumn: f.imageColumn, FloatColumn: f.floatColumn, LabelColumn: f.labelColumn,
				C: f.channels, H: f.height, W: f.width,
			}, out, b)
			if err != nil {
				return err
			}
			fmt.Fprintf(convertStderr, "Processed %d rows of %s: wrote %s (%v).\n", n, in, out, b)
			return nil
		},
	})
}

// datumDBBackend reports whether path is a Caffe database folder: LMDB (a
// data.mdb file) or LevelDB (a CURRENT file).
func datumDBBackend(path string) (data.Backend, bool) {
	if st, err := os.Stat(filepath.Join(path, "data.mdb")); err == nil && st.Mode().IsRegular() {
		return data.LMDB, true
	}
	if st, err := os.Stat(filepath.Join(path, "CURRENT")); err == nil && st.Mode().IsRegular() {
		return data.LevelDB, true
	}
	return 0, false
}
