package engine

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ugnos/ugnos/errs"
)

// TestSnapshotSideFiles: side files travel in the manifest, are verified,
// put into the data directory by Restore (replacing files of the same
// name, leaving others) and returned; bad names are refused.
func TestSnapshotSideFiles(t *testing.T) {
	for _, mode := range []string{"disk", "memory"} {
		t.Run(mode, func(t *testing.T) {
			dir := ""
			if mode == "disk" {
				dir = t.TempDir()
			}
			e := openDir(t, dir, Options{NoBackground: true})
			defer e.Close()
			writePts(t, e, "t", "m", snapPts(100, 0))
			snap := filepath.Join(t.TempDir(), "snap")
			side := []SideFile{{Name: "rules.json", Data: []byte(`{"a":1}`)}, {Name: "empty.json", Data: []byte{}}}
			info, err := e.Snapshot(bg, snap, side...)
			if err != nil {
				t.Fatal(err)
			}
			if info.Files != 1+2+3 {
				t.Fatalf("files %d", info.Files)
			}
			if dir != "" {
				os.WriteFile(filepath.Join(dir, "rules.json"), []byte("old"), 0o644)
				os.WriteFile(filepath.Join(dir, "other.json"), []byte("mine"), 0o644)
			}
			got, err := e.RestoreFiles(bg, snap)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Name != "rules.json" || string(got[0].Data) != `{"a":1}` || got[1].Name != "empty.json" || len(got[1].Data) != 0 {
				t.Fatalf("side files %q", got)
			}
			check(t, e, "t", "m", snapPts(100, 0))
			if dir == "" {
				return
			}
			for name, want := range map[string]string{"rules.json": `{"a":1}`, "empty.json": "", "other.json": "mine"} {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
					t.Fatalf("%s after restore: %q %v", name, b, err)
				}
			}
		})
	}
}

func TestSnapshotSideFileNames(t *testing.T) {
	e := openDir(t, "", Options{NoBackground: true})
	defer e.Close()
	f := func(name string, ok bool) {
		t.Helper()
		_, err := e.Snapshot(bg, filepath.Join(t.TempDir(), "s"), SideFile{Name: name, Data: []byte("x")})
		if ok != (err == nil) || err != nil && !errors.Is(err, errs.ErrInvalidInput) {
			t.Fatalf("side file %q: %v", name, err)
		}
	}
	f("rules.json", true)
	f("caggs.json", true)
	f("", false)
	f("../rules.json", false)
	f("a/rules.json", false)
	f("/etc/passwd", false)
	f(".hidden", false)
	f("x.tmp", false)
	f("MANIFEST", false)
	f("SNAPSHOT", false)
	f("RESTORE", false)
	f("LOCK", false)
	f("wal", false)
	f("segments", false)
	f("catalog", false)
	f("files", false)
	_, err := e.Snapshot(bg, filepath.Join(t.TempDir(), "s"), SideFile{Name: "a"}, SideFile{Name: "a"})
	if !errors.Is(err, errs.ErrInvalidInput) {
		t.Fatalf("duplicate side file: %v", err)
	}
}

// TestRestoreResumesSideFiles: a restore interrupted after its marker,
// with one side file moved into place already and one not, completes on
// the next Open.
func TestRestoreResumesSideFiles(t *testing.T) {
	src := openDir(t, "", Options{})
	writePts(t, src, "t", "m", snapPts(50, 0))
	snap := filepath.Join(t.TempDir(), "snap")
	side := []SideFile{{Name: "a.json", Data: []byte("new a")}, {Name: "b.json", Data: []byte("new b")}}
	if _, err := src.Snapshot(bg, snap, side...); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dir := t.TempDir()
	e := openDir(t, dir, Options{NoBackground: true})
	writePts(t, e, "t", "m", snapPts(5, 500))
	e.Close()
	os.WriteFile(filepath.Join(dir, "a.json"), []byte("old a"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.json"), []byte("old b"), 0o644)
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
	if _, err := writeSideFiles(staging, side); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, restoreMarker), []byte(staging), 0o644)
	// and part of finishRestore: a.json moved already
	os.MkdirAll(filepath.Join(dir, ".restore-old"), 0o755)
	os.Rename(filepath.Join(dir, "a.json"), filepath.Join(dir, ".restore-old", "a.json"))
	os.Rename(filepath.Join(staging, "files", "a.json"), filepath.Join(dir, "a.json"))
	e = openDir(t, dir, Options{NoBackground: true})
	defer e.Close()
	check(t, e, "t", "m", snapPts(50, 0))
	for name, want := range map[string]string{"a.json": "new a", "b.json": "new b"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Fatalf("%s: %q %v", name, b, err)
		}
	}
	if _, err := os.Stat(staging); !os.IsNotExist(err) {
		t.Fatalf("staging left: %v", err)
	}
}
