// Package snaptest helps tests copy and damage snapshots and data
// directories.
package snaptest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DamageSegment flips a byte in the middle of one .parquet file under
// snap. Segment files of a snapshot may be hard links to a data
// directory's, so the file is replaced by a new one, never written
// through.
func DamageSegment(t testing.TB, snap string) {
	t.Helper()
	var seg string
	filepath.WalkDir(snap, func(p string, d os.DirEntry, err error) error {
		if err == nil && seg == "" && strings.HasSuffix(p, ".parquet") {
			seg = p
		}
		return nil
	})
	if seg == "" {
		t.Fatal("no .parquet file in the snapshot")
	}
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.Remove(seg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyTree copies the regular files under src to dst, leaving out a data
// directory's LOCK. It copies, never links: the engine under test may
// write or remove them.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == "LOCK" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
