package parquet

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dataFile is one Parquet file of a dataset and the Hive partition values
// of the folders above it ("split=train/label=3/" gives split and label).
type dataFile struct {
	path string
	keys map[string]string
}

// listFiles returns the Parquet files of path, a file or a folder, in
// sorted path order. A folder is walked recursively, as Spark lays out a
// DataFrame: part files at any depth below Hive-style key=value folders.
// Skipped: names starting with "_" or "." (Spark's _SUCCESS,
// _committed_*, _started_*, _temporary/, and its hidden .crc checksums),
// and files ending in ".crc". Every other regular file must be Parquet; a
// stray file is an error later, naming it, rather than silently skipped.
func listFiles(path string) ([]dataFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []dataFile{{path: path}}, nil
	}
	var out []dataFile
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != path && (strings.HasPrefix(name, "_") || strings.HasPrefix(name, ".") || (!d.IsDir() && strings.HasSuffix(name, ".crc"))) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		rel, err := filepath.Rel(path, filepath.Dir(p))
		if err != nil {
			return err
		}
		out = append(out, dataFile{path: p, keys: hiveKeys(rel)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// WalkDir visits entries in lexical order within each folder, which
	// is the sorted order of the paths; sorting again is not needed.
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no Parquet files in the folder", path)
	}
	return out, nil
}

// hiveKeys parses the key=value segments of a relative folder path.
func hiveKeys(rel string) map[string]string {
	var keys map[string]string
	for _, seg := range strings.Split(filepath.ToSlash(rel), "/") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok || k == "" {
			continue
		}
		if keys == nil {
			keys = map[string]string{}
		}
		keys[k] = unescapeHive(v)
	}
	return keys
}

// unescapeHive undoes Hive's escaping of partition values (%XX for
// characters such as '/', '=', ':' and '%').
func unescapeHive(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && isHex(v[i+1]) && isHex(v[i+2]) {
			b.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
			i += 2
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
