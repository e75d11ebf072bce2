//go:build !unix

package lmdb

import "os"

// mapFile reads the whole file into memory on platforms without mmap in
// package syscall.
func mapFile(file string) ([]byte, func() error, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
