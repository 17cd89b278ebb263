//go:build !unix

package wal

import "io"

// syncDir is a no-op where directories cannot be fsynced.
func syncDir(string) error { return nil }

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// lockDir takes no lock where flock(2) is not available.
func lockDir(string) (io.Closer, error) { return nopCloser{}, nil }
