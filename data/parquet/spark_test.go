package parquet

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// sparkSpec describes a dataset written as Spark writes a DataFrame, with
// arrow-go's own writer (not this package's Writer), so that the reader is
// tested against files it did not produce.
type sparkSpec struct {
	kind      string         // raw, png, doubles (list<double>), fixed (fixed_size_list<float>)
	labelType arrow.DataType // nil: int32
	codec     compress.Compression
	rowGroup  int    // rows per row group
	fileRows  int    // rows per part file
	folder    string // partition folder below the root, e.g. "split=train"
	// labelInPath writes the label as a partitionBy("label") folder
	// (label=K/) instead of a column; rows are then grouped by label.
	labelInPath bool
}

// The shape of the test examples.
const tc, th, tw = 1, 3, 4

// sparkValue is element j of example i: pixels for raw and png, features
// otherwise (as float64, converted to float32 by the reader).
func sparkValue(kind string, i, j int) float64 {
	if kind == "raw" || kind == "png" {
		return float64((i*7 + j*13) % 256)
	}
	return float64(i) + float64(j)*0.25 - 3
}

func sparkLabel(i int) int { return (i * 3) % 10 }

func sparkPNG(i int) []byte {
	img := image.NewGray(image.Rect(0, 0, tw, th))
	for y := 0; y < th; y++ {
		for x := 0; x < tw; x++ {
			img.SetGray(x, y, color.Gray{uint8(sparkValue("png", i, y*tw+x))})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// writeSpark writes n examples under root and returns the folder holding
// the part files (root/folder). It also leaves what Spark and HDFS leave
// beside part files: _SUCCESS, hidden .crc checksums, Databricks'
// _committed_ and _started_ markers, and a sibling partition folder with
// other data.
func writeSpark(t testing.TB, root string, n int, sp sparkSpec) string {
	t.Helper()
	if sp.labelType == nil {
		sp.labelType = arrow.PrimitiveTypes.Int32
	}
	dir := filepath.Join(root, sp.folder)
	mustMkdir(t, dir)
	var dataType arrow.DataType
	switch sp.kind {
	case "raw", "png":
		dataType = arrow.BinaryTypes.Binary
	case "doubles":
		dataType = arrow.ListOf(arrow.PrimitiveTypes.Float64)
	case "fixed":
		dataType = arrow.FixedSizeListOf(tc*th*tw, arrow.PrimitiveTypes.Float32)
	default:
		t.Fatalf("kind %q", sp.kind)
	}
	fields := []arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "features", Type: dataType, Nullable: true},
	}
	if !sp.labelInPath {
		fields = append(fields, arrow.Field{Name: "label", Type: sp.labelType, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	props := parquet.NewWriterProperties(
		parquet.WithCompression(sp.codec),
		parquet.WithDictionaryDefault(true), // parquet-mr's default: label (and id) dictionary-encoded
		parquet.WithDictionaryCostFallbackFor("label", false),
		parquet.WithCreatedBy("parquet-mr version 1.13.1 (build db4183109d5b734ec5930d870cdae161e408ddba)"),
	)

	// The rows of each file, in order.
	var groups [][]int
	if sp.labelInPath {
		byLabel := map[int][]int{}
		for i := 0; i < n; i++ {
			byLabel[sparkLabel(i)] = append(byLabel[sparkLabel(i)], i)
		}
		for l := 0; l < 10; l++ {
			if len(byLabel[l]) > 0 {
				groups = append(groups, byLabel[l])
			}
		}
	} else {
		for lo := 0; lo < n; lo += sp.fileRows {
			groups = append(groups, seq(lo, min(lo+sp.fileRows, n)))
		}
	}
	for part, rows := range groups {
		fdir := dir
		if sp.labelInPath {
			fdir = filepath.Join(dir, fmt.Sprintf("label=%d", sparkLabel(rows[0])))
			mustMkdir(t, fdir)
		}
		name := fmt.Sprintf("part-%05d-8e4b0c9e-3f60-4a4e-9d2c-5b1f0e7a6c11-c000.snappy.parquet", part)
		f, err := os.Create(filepath.Join(fdir, name))
		if err != nil {
			t.Fatal(err)
		}
		fw, err := pqarrow.NewFileWriter(schema, f, props, pqarrow.DefaultWriterProps())
		if err != nil {
			t.Fatal(err)
		}
		fw.AppendKeyValueMetadata("org.apache.spark.version", "3.5.1")
		for lo := 0; lo < len(rows); lo += sp.rowGroup {
			rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
			for _, i := range rows[lo:min(lo+sp.rowGroup, len(rows))] {
				rb.Field(0).(*array.Int64Builder).Append(int64(i))
				switch b := rb.Field(1).(type) {
				case *array.BinaryBuilder:
					if sp.kind == "png" {
						b.Append(sparkPNG(i))
					} else {
						v := make([]byte, tc*th*tw)
						for j := range v {
							v[j] = byte(sparkValue("raw", i, j))
						}
						b.Append(v)
					}
				case *array.ListBuilder:
					b.Append(true)
					for j := 0; j < tc*th*tw; j++ {
						b.ValueBuilder().(*array.Float64Builder).Append(sparkValue(sp.kind, i, j))
					}
				case *array.FixedSizeListBuilder:
					b.Append(true)
					for j := 0; j < tc*th*tw; j++ {
						b.ValueBuilder().(*array.Float32Builder).Append(float32(sparkValue(sp.kind, i, j)))
					}
				}
				if !sp.labelInPath {
					switch b := rb.Field(2).(type) {
					case *array.Int32Builder:
						b.Append(int32(sparkLabel(i)))
					case *array.Int64Builder:
						b.Append(int64(sparkLabel(i)))
					case *array.Float64Builder:
						b.Append(float64(sparkLabel(i)))
					default:
						t.Fatalf("label builder %T", b)
					}
				}
			}
			rec := rb.NewRecordBatch()
			if err := fw.Write(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			rb.Release()
		}
		if err := fw.Close(); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(fdir, "."+name+".crc"), []byte("crc\x00\x01"))
	}
	writeFile(t, filepath.Join(dir, "_committed_6101791409426412431"), []byte(`{"added":[]}`))
	writeFile(t, filepath.Join(dir, "_started_6101791409426412431"), nil)
	writeFile(t, filepath.Join(root, "_SUCCESS"), nil)
	mustMkdir(t, filepath.Join(root, "_temporary", "0"))
	writeFile(t, filepath.Join(root, "_temporary", "0", "part-00009.parquet"), []byte("unfinished"))
	return dir
}

func seq(lo, hi int) []int {
	out := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

func mustMkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// order returns the example index of each record, in the order a reader
// sees them: the row order of sorted files.
func order(n int, sp sparkSpec) []int {
	if !sp.labelInPath {
		return seq(0, n)
	}
	var out []int
	for l := 0; l < 10; l++ {
		for i := 0; i < n; i++ {
			if sparkLabel(i) == l {
				out = append(out, i)
			}
		}
	}
	return out
}

// usesDictionary reports whether column col of every row group of the
// file at path is dictionary-encoded.
func usesDictionary(t testing.TB, path string, col int) bool {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for g := 0; g < r.NumRowGroups(); g++ {
		cc, err := r.MetaData().RowGroup(g).ColumnChunk(col)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(cc.Encodings(), parquet.Encodings.RLEDict) && !slices.Contains(cc.Encodings(), parquet.Encodings.PlainDict) {
			return false
		}
	}
	return true
}
