package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/errs"
)

func snapPts(n, off int) []pt {
	var out []pt
	for i := range n {
		out = append(out, pt{fmt.Sprintf("h%d", i%5), int64(off+i) * hour / 50, float64(off + i)})
	}
	return out
}

// TestSnapshotRestore: a snapshot holds the data on disk and in memory
// at its moment; later writes, deletes and drops are undone by Restore,
// in a persistent and a memory-only engine, and into another directory.
func TestSnapshotRestore(t *testing.T) {
	for _, mode := range []string{"disk", "memory"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "disk" {
				dir = t.TempDir()
			}
			opts := Options{NoBackground: true}
			e := openDir(t, dir, opts)
			defer e.Close()
			a := snapPts(3000, 0)
			writePts(t, e, "t", "m", a[:2000])
			if err := e.Checkpoint(bg); err != nil {
				t.Fatal(err)
			}
			writePts(t, e, "t", "m", a[2000:])       // in memory at the snapshot
			writePts(t, e, "u", "x", snapPts(10, 0)) // another tenant
			if _, err := e.Delete(bg, "t", "m", 0, 10*hour/50, nil); err != nil {
				t.Fatal(err)
			}
			kept := a[11:]
			snap := filepath.Join(t.TempDir(), "snap")
			info, err := e.Snapshot(bg, snap)
			if err != nil {
				t.Fatal(err)
			}
			if info.Rows < int64(len(kept)) {
				t.Fatalf("snapshot info %+v", info)
			}
			// after the snapshot: more rows, a delete, a dropped table
			writePts(t, e, "t", "m", snapPts(100, 5000))
			if _, err := e.Delete(bg, "t", "m", 0, 1000*hour/50, nil); err != nil {
				t.Fatal(err)
			}
			if err := e.DropTable("u", "x", false); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Snapshot(bg, snap); err == nil {
				t.Fatal("a snapshot over a non-empty directory succeeded")
			}
			if err := e.Restore(bg, snap); err != nil {
				t.Fatal(err)
			}
			check(t, e, "t", "m", kept)
			check(t, e, "u", "x", snapPts(10, 0))
			// the restored database takes writes and deletes as usual
			more := snapPts(50, 9000)
			writePts(t, e, "t", "m", more)
			n, err := e.Delete(bg, "t", "m", 20*hour/50, 29*hour/50, nil)
			if err != nil || n != 10 {
				t.Fatalf("delete after restore: %d, %v", n, err)
			}
			var now []pt
			for _, p := range append(append([]pt{}, kept...), more...) {
				if p.t < 20*hour/50 || p.t > 29*hour/50 {
					now = append(now, p)
				}
			}
			check(t, e, "t", "m", now)
			if dir != "" {
				e.Close()
				e = openDir(t, dir, opts)
				check(t, e, "t", "m", now)
				check(t, e, "u", "x", snapPts(10, 0))
			}
			// into a fresh directory
			other := openDir(t, t.TempDir(), opts)
			defer other.Close()
			if err := other.Restore(bg, snap); err != nil {
				t.Fatal(err)
			}
			check(t, other, "t", "m", kept)
		})
	}
}

// TestSnapshotDamaged: a truncated, tampered or incomplete snapshot is
// refused with a corruption error and the data stays as it was.
func TestSnapshotDamaged(t *testing.T) {
	src := openDir(t, t.TempDir(), Options{NoBackground: true})
	defer src.Close()
	a := snapPts(500, 0)
	writePts(t, src, "t", "m", a)
	if err := src.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	writePts(t, src, "t", "m", snapPts(10, 1000))
	for _, damage := range []string{"truncate-segment", "flip-segment", "flip-manifest", "remove-catalog", "remove-snapshot", "escape"} {
		t.Run(damage, func(t *testing.T) {
			snap := filepath.Join(t.TempDir(), "snap")
			if _, err := src.Snapshot(bg, snap); err != nil {
				t.Fatal(err)
			}
			m, err := VerifySnapshot(snap)
			if err != nil {
				t.Fatal(err)
			}
			seg := filepath.Join(snap, filepath.FromSlash(m.Segments[0].Path))
			os.Chmod(seg, 0o644)
			switch damage {
			case "truncate-segment":
				b, _ := os.ReadFile(seg)
				os.Remove(seg) // a hard link: never write through it
				os.WriteFile(seg, b[:len(b)-10], 0o644)
			case "flip-segment":
				b, _ := os.ReadFile(seg)
				b[len(b)/2] ^= 1
				os.Remove(seg)
				os.WriteFile(seg, b, 0o644)
			case "flip-manifest":
				p := filepath.Join(snap, manifestName)
				b, _ := os.ReadFile(p)
				b[10] ^= 1
				os.WriteFile(p, b, 0o644)
			case "remove-catalog":
				os.Remove(filepath.Join(snap, filepath.FromSlash(m.Catalog.Path)))
			case "remove-snapshot":
				os.Remove(filepath.Join(snap, snapshotName))
			case "escape":
				// a manifest naming a file outside the snapshot, with
				// checksums that match
				outside := filepath.Join(filepath.Dir(snap), "outside.parquet")
				b, _ := os.ReadFile(seg)
				os.WriteFile(outside, b, 0o644)
				m.Segments[0].Path = "../outside.parquet"
				mb, _ := json.Marshal(m)
				os.WriteFile(filepath.Join(snap, manifestName), mb, 0o644)
				var si snapshotInfo
				sb, _ := os.ReadFile(filepath.Join(snap, snapshotName))
				json.Unmarshal(sb, &si)
				si.Manifest.Size, si.Manifest.Sum = int64(len(mb)), xxh3.Hash(mb)
				sb, _ = json.Marshal(si)
				os.WriteFile(filepath.Join(snap, snapshotName), sb, 0o644)
			}
			dst := openDir(t, t.TempDir(), Options{NoBackground: true})
			defer dst.Close()
			mine := snapPts(20, 7000)
			writePts(t, dst, "t", "m", mine)
			if err := dst.Restore(bg, snap); !errors.Is(err, errs.ErrCorrupt) {
				t.Fatalf("restore of a damaged snapshot: %v", err)
			}
			check(t, dst, "t", "m", mine)
			// the source's files are untouched (links are never written through)
			check(t, src, "t", "m", append(append([]pt{}, a...), snapPts(10, 1000)...))
		})
	}
}

// TestRestoreResumes: a restore interrupted after its marker is written
// completes on the next Open.
func TestRestoreResumes(t *testing.T) {
	src := openDir(t, "", Options{})
	a := snapPts(300, 0)
	writePts(t, src, "t", "m", a)
	snap := filepath.Join(t.TempDir(), "snap")
	if _, err := src.Snapshot(bg, snap); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dir := t.TempDir()
	e := openDir(t, dir, Options{NoBackground: true})
	writePts(t, e, "t", "m", snapPts(5, 500))
	e.Close()
	// what Restore does up to the marker, by hand
	m, err := VerifySnapshot(snap)
	if err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(dir, ".restore-staging")
	for _, f := range append([]string{manifestName, m.Catalog.Path}, m.Segments[0].Path) {
		if err := linkOrCopy(filepath.Join(snap, filepath.FromSlash(f)), filepath.Join(staging, filepath.FromSlash(f))); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(staging, "wal"), 0o755)
	os.WriteFile(filepath.Join(dir, restoreMarker), []byte(staging), 0o644)
	// and part of finishRestore: the segments moved already
	os.MkdirAll(filepath.Join(dir, ".restore-old"), 0o755)
	os.Rename(filepath.Join(dir, "segments"), filepath.Join(dir, ".restore-old", "segments"))
	os.Rename(filepath.Join(staging, "segments"), filepath.Join(dir, "segments"))
	e = openDir(t, dir, Options{NoBackground: true})
	defer e.Close()
	check(t, e, "t", "m", a)
	if _, err := os.Stat(filepath.Join(dir, restoreMarker)); !os.IsNotExist(err) {
		t.Fatalf("marker left: %v", err)
	}
}
