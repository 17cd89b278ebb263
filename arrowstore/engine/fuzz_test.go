package engine

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/fuzzcheck"
	"github.com/ugnos/ugnos/internal/snaptest"
)

// fuzzFixture is what the manifest fuzz targets start every input from:
// a data directory after a checkpoint (two tables, two UTC days, a
// tombstone, rows left in the WAL) and a snapshot of it with a side file.
type fuzzFixture struct {
	data, snap string
	man        []byte // the snapshot's MANIFEST
	dataMan    []byte // the data directory's MANIFEST
	content    map[string][]string
}

var (
	fixtureOnce sync.Once
	fixture     fuzzFixture
	fixtureErr  error
)

var quietOpts = Options{NoBackground: true, Logger: slog.New(slog.DiscardHandler)}

// fuzzBase builds the fixture once per process (fuzz workers are
// processes of their own) under a directory that outlives the tests'.
func fuzzBase(f *testing.F) fuzzFixture {
	f.Helper()
	fixtureOnce.Do(func() {
		root, err := os.MkdirTemp("", "ugnos-fuzz-manifest-")
		if err != nil {
			fixtureErr = err
			return
		}
		fixture.data, fixture.snap = filepath.Join(root, "data"), filepath.Join(root, "snap")
		e, err := Open(fixture.data, quietOpts)
		if err != nil {
			fixtureErr = err
			return
		}
		defer e.Close()
		writePts(f, e, "t", "m", snapPts(200, 0)) // 4 hours
		writePts(f, e, "u", "x", []pt{{"a", 30 * hour, 1}, {"b", 31 * hour, 2}})
		if err = e.Checkpoint(bg); err == nil {
			_, err = e.Delete(bg, "t", "m", 0, hour/50, nil)
		}
		if err == nil {
			err = e.Checkpoint(bg)
		}
		if err != nil {
			fixtureErr = err
			return
		}
		writePts(f, e, "t", "m", snapPts(5, 1000)) // in the WAL only
		if _, err := e.Snapshot(bg, fixture.snap, SideFile{Name: "rules.json", Data: []byte(`{"rules": []}`)}); err != nil {
			fixtureErr = err
			return
		}
		fixture.content = contentOf(f, e)
		fixture.man, fixtureErr = os.ReadFile(filepath.Join(fixture.snap, manifestName))
		if fixtureErr == nil {
			fixture.dataMan, fixtureErr = os.ReadFile(filepath.Join(fixture.data, manifestName))
		}
	})
	if fixtureErr != nil {
		f.Fatal(fixtureErr)
	}
	return fixture
}

// contentOf is every row of every table, by "tenant.table".
func contentOf(t testing.TB, e *Engine) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tn := range e.Tenants() {
		names, err := e.Tables(tn)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			out[tn+"."+n] = readAll(t, e, tn, n)
		}
	}
	return out
}

// scanEvery reads every column of every table: it may fail, with a
// typed error, but not panic.
func scanEvery(t *testing.T, e *Engine) {
	t.Helper()
	for _, tn := range e.Tenants() {
		names, err := e.Tables(tn)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			tb, err := e.Table(tn, n)
			if err != nil {
				t.Fatal(err)
			}
			r, err := tb.Scan(bg, arrowstore.ScanRequest{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime})
			if err == nil {
				for r.Next() {
				}
				err = r.Err()
				r.Release()
			}
			if err != nil {
				wantKind(t, err, errs.ErrCorrupt)
			}
		}
	}
}

// wantKind fails t unless err is an *errs.Error of one of the kinds.
func wantKind(t *testing.T, err error, kinds ...error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || len(e.SQLState()) != 5 {
		t.Fatalf("untyped error: %v (%T)", err, err)
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("error of another kind: %v", err)
}

// manifestSeeds are the fixture's manifest, damaged in the ways a
// reader must survive: cut short, emptied, its paths leaving the
// directory, its footers, sizes, tables and tombstones wrong, huge
// numbers, deep nesting, invalid UTF-8.
func manifestSeeds(good []byte) [][]byte {
	out := [][]byte{good, good[:len(good)/2], good[:1], nil, []byte("null"), []byte("[]"), []byte(`{"version":1}`),
		[]byte(`{"version":1,"catalog":{"path":"","size":0,"xxh3":3244421341483603138}}`),
		[]byte(`{"version":2}`), []byte(strings.Repeat("[", 100000)), []byte("{\"version\":1,\"catalog\":{\"path\":\"\xff\xfe\"}}"),
		[]byte(`{"version":1e999,"lsn":-1,"next_file":18446744073709551616}`)}
	edit := func(fn func(m *manifest)) {
		var m manifest
		if json.Unmarshal(good, &m) != nil || len(m.Segments) == 0 {
			return
		}
		fn(&m)
		b, _ := json.Marshal(&m)
		out = append(out, b)
	}
	edit(func(m *manifest) { m.Catalog.Path = "../../../../etc/passwd" })
	edit(func(m *manifest) { m.Segments[0].Path = "/dev/zero" })
	edit(func(m *manifest) { m.Segments[0].Path = m.Catalog.Path; m.Segments[0].fileRef = m.Catalog })
	edit(func(m *manifest) { m.Segments[0].Footer++ })
	edit(func(m *manifest) { m.Segments[len(m.Segments)-1].Footer++ })
	edit(func(m *manifest) { m.Segments[len(m.Segments)-1].Table = m.Segments[0].Table })
	edit(func(m *manifest) { m.Segments[0].Footer = 1 << 62 })
	edit(func(m *manifest) { m.Segments[0].Footer = -1 })
	edit(func(m *manifest) { m.Segments[0].FooterSum ^= 1 })
	edit(func(m *manifest) { m.Segments[0].Size = -1 })
	edit(func(m *manifest) { m.Segments[0].Table = m.Segments[len(m.Segments)-1].Table + 1 })
	edit(func(m *manifest) {
		for i := range m.Segments {
			m.Segments[i].Table = 1 - m.Segments[i].Table%2
		}
	})
	edit(func(m *manifest) { m.Segments = append(m.Segments, m.Segments...) })
	edit(func(m *manifest) { m.Segments[0].MinT, m.Segments[0].MaxT = m.Segments[0].MaxT, m.Segments[0].MinT })
	edit(func(m *manifest) {
		m.Tombstones = append(m.Tombstones, tombstone{Table: 1, MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime, All: true})
	})
	edit(func(m *manifest) {
		m.Tombstones = append(m.Tombstones, tombstone{Table: 1, MinT: 5, MaxT: 1, SIDs: []uint32{1 << 31, 0}})
	})
	edit(func(m *manifest) { m.LSN = 1 << 63 })
	edit(func(m *manifest) { m.Files = append(m.Files, fileRef{Path: "files/../MANIFEST"}) })
	edit(func(m *manifest) { m.Files = append(m.Files, fileRef{Path: "files/LOCK"}) })
	return out
}

// FuzzManifest opens a data directory whose MANIFEST holds arbitrary
// bytes: Open must refuse it with an ErrCorrupt, or open a database
// whose every table reads (or fails typed), and close without leaving a
// goroutine or an open file behind.
//
//	go test -run '^$' -fuzz '^FuzzManifest$' -fuzztime 30s ./arrowstore/engine/
func FuzzManifest(f *testing.F) {
	fx := fuzzBase(f)
	for _, s := range manifestSeeds(fx.dataMan) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, man []byte) {
		defer fuzzcheck.Start(t, 30*time.Second)()
		dir := t.TempDir()
		snaptest.CopyTree(t, fx.data, dir)
		if err := os.WriteFile(filepath.Join(dir, manifestName), man, 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := Open(dir, quietOpts)
		if err != nil {
			wantKind(t, err, errs.ErrCorrupt)
			return
		}
		scanEvery(t, e)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzSnapshot verifies and restores a snapshot whose MANIFEST holds
// arbitrary bytes; with fix, SNAPSHOT is rewritten to hold that
// manifest's size and checksum (so the input reaches past the checksum),
// else it holds arbitrary bytes too. Verification must pass or fail with
// an ErrCorrupt; a restore, into a memory-only engine and into one with a
// data directory, either completes or changes nothing: the engine keeps
// its content, and the data directory reopens with it.
//
//	go test -run '^$' -fuzz '^FuzzSnapshot$' -fuzztime 30s ./arrowstore/engine/
func FuzzSnapshot(f *testing.F) {
	fx := fuzzBase(f)
	info, err := os.ReadFile(filepath.Join(fx.snap, snapshotName))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range manifestSeeds(fx.man) {
		f.Add(s, info, true)
	}
	f.Add(fx.man, info, false)
	f.Add(fx.man, info[:len(info)-2], false)
	f.Add(fx.man, []byte(`{"version":1,"manifest":{"path":"../data/MANIFEST"}}`), false)
	f.Add(fx.man, []byte(`{"version":1,"manifest":{"path":"MANIFEST","size":-1}}`), false)
	f.Add(fx.man, []byte(`{"version":1,"manifest":{"path":"/proc/self/mem","size":1}}`), false)
	f.Fuzz(func(t *testing.T, man, snapInfo []byte, fix bool) {
		defer fuzzcheck.Start(t, 60*time.Second)()
		snap := filepath.Join(t.TempDir(), "snap")
		snaptest.CopyTree(t, fx.snap, snap)
		if fix {
			var m manifest
			_ = json.Unmarshal(man, &m)
			snapInfo, _ = json.Marshal(snapshotInfo{Version: 1, LSN: m.LSN, Manifest: fileRef{Path: manifestName, Size: int64(len(man)), Sum: xxh3.Hash(man)}})
		}
		if err := os.WriteFile(filepath.Join(snap, manifestName), man, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snap, snapshotName), snapInfo, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := VerifySnapshot(snap); err != nil {
			wantKind(t, err, errs.ErrCorrupt)
		}

		// memory-only
		mem := openDir(t, "", quietOpts)
		old := []pt{{"z", 7 * hour, 7}}
		writePts(t, mem, "t", "old", old)
		if err := mem.Restore(bg, snap); err != nil {
			wantKind(t, err, errs.ErrCorrupt)
			check(t, mem, "t", "old", old) // nothing half restored
		} else {
			scanEvery(t, mem)
		}
		if err := mem.Close(); err != nil {
			t.Fatal(err)
		}

		// with a data directory
		dir := t.TempDir()
		snaptest.CopyTree(t, fx.data, dir)
		e := openDir(t, dir, quietOpts)
		rerr := e.Restore(bg, snap)
		if rerr != nil {
			wantKind(t, rerr, errs.ErrCorrupt)
			sameContent(t, e, fx.content)
		} else {
			scanEvery(t, e)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e, err := Open(dir, quietOpts)
		if err != nil {
			t.Fatalf("reopen after restore (error %v): %v", rerr, err)
		}
		defer e.Close()
		if rerr != nil {
			sameContent(t, e, fx.content)
		} else {
			scanEvery(t, e)
		}
	})
}

func sameContent(t *testing.T, e *Engine, want map[string][]string) {
	t.Helper()
	got := contentOf(t, e)
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Fatalf("%s changed: %d rows, want %d", k, len(got[k]), len(w))
		}
	}
	if len(got) != len(want) {
		t.Fatalf("tables %v, want %v", got, want)
	}
}
