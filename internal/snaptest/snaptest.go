// Package snaptest helps tests damage snapshots.
package snaptest

import (
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
