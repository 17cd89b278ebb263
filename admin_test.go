package ugnos_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/snaptest"
)

func openDir(t *testing.T, dir string) *ugnos.DB {
	t.Helper()
	db, err := ugnos.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// adminFixture writes rows into two tenants through SQL.
func adminFixture(t *testing.T, db *ugnos.DB) {
	t.Helper()
	for _, q := range []struct{ tenant, sql string }{
		{"acme", "CREATE DATABASE acme"},
		{"acme", "CREATE TABLE cpu (time timestamptz, host text, usage double precision, n bigint)"},
		{"acme", "INSERT INTO cpu VALUES ('2024-01-01 00:00:00+00', 'a', 1.5, 1), ('2024-01-01 00:01:00+00', 'b', 2.5, 2), ('2024-01-01 00:02:00+00', 'a', 3.5, 3)"},
		{"other", "CREATE DATABASE other"},
		{"other", "CREATE TABLE mem (time timestamptz, host text, free bigint)"},
		{"other", "INSERT INTO mem VALUES ('2024-02-01 00:00:00+00', 'x', 10), ('2024-02-01 00:00:10+00', 'y', 20)"},
	} {
		if _, err := db.Exec(ctx, q.tenant, q.sql); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
}

// adminContent is every row of the fixture's tables, in order.
func adminContent(t *testing.T, db *ugnos.DB) string {
	t.Helper()
	a, err := sltRunArgs2(db, "acme", "SELECT time, host, usage, n FROM cpu ORDER BY time")
	if err != nil {
		t.Fatal(err)
	}
	b, err := sltRunArgs2(db, "other", "SELECT time, host, free FROM mem ORDER BY time")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(a, "\n") + "\n--\n" + strings.Join(b, "\n")
}

func sqlState(err error) string { return errs.SQLState(err) }

// TestCheckpointStatement: CHECKPOINT moves the rows of every tenant into
// segment files, from any database, with PostgreSQL's command tag.
func TestCheckpointStatement(t *testing.T) {
	db := openDir(t, t.TempDir())
	adminFixture(t, db)
	before := db.Metrics()
	if before.Segments != 0 || before.DiskRows != 0 {
		t.Fatalf("before CHECKPOINT: %d segments, %d rows on disk", before.Segments, before.DiskRows)
	}
	res, err := db.Exec(ctx, "postgres", "CHECKPOINT")
	if err != nil {
		t.Fatal(err)
	}
	if res.Tag != "CHECKPOINT" || res.Rows != nil {
		t.Fatalf("CHECKPOINT: tag %q, rows %v", res.Tag, res.Rows)
	}
	m := db.Metrics()
	if m.Segments < 2 || m.DiskRows != 5 || m.Checkpoints <= before.Checkpoints {
		t.Fatalf("after CHECKPOINT: %d segments, %d rows on disk, %d checkpoints (before %d)", m.Segments, m.DiskRows, m.Checkpoints, before.Checkpoints)
	}
	if got := adminContent(t, db); !strings.Contains(got, "b 2.5 2") || !strings.Contains(got, "y 20") {
		t.Fatalf("rows after CHECKPOINT:\n%s", got)
	}
	// a memory-only database has nothing to do, and says so without error
	if res, err := openMem(t).Exec(ctx, "t", "CHECKPOINT"); err != nil || res.Tag != "CHECKPOINT" {
		t.Fatalf("memory-only CHECKPOINT: %v, %v", res, err)
	}
}

// TestCheckpointFunctions: ugnos_checkpoint() and ugnos_compact() run
// once per call and report the layout.
func TestCheckpointFunctions(t *testing.T) {
	db := openDir(t, t.TempDir())
	adminFixture(t, db)
	got, err := sltRunArgs2(db, "acme", "SELECT ugnos_checkpoint()")
	if err != nil {
		t.Fatal(err)
	}
	m := db.Metrics()
	if len(got) != 1 || !strings.HasPrefix(got[0], "checkpoint done: ") || m.Segments == 0 || m.DiskRows != 5 || m.Checkpoints != 1 {
		t.Fatalf("ugnos_checkpoint() = %q; %d segments, %d rows on disk, %d checkpoints", got, m.Segments, m.DiskRows, m.Checkpoints)
	}
	// more rows, a second file for the table, then compaction
	if _, err := db.Exec(ctx, "acme", "INSERT INTO cpu VALUES ('2024-01-01 00:03:00+00', 'c', 4.5, 4)"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "acme", "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	got, err = sltRunArgs2(db, "other", "SELECT ugnos_compact() AS c")
	if err != nil {
		t.Fatal(err)
	}
	m = db.Metrics()
	if len(got) != 1 || !strings.HasPrefix(got[0], "compaction done: ") || m.DiskRows != 6 {
		t.Fatalf("ugnos_compact() = %q; %d rows on disk", got, m.DiskRows)
	}
	if n, err := sltRunArgs2(db, "acme", "SELECT count(*) FROM cpu"); err != nil || n[0] != "4" {
		t.Fatalf("count after compaction = %v, %v", n, err)
	}
	// wrong arguments
	for _, q := range []string{"SELECT ugnos_checkpoint(1)", "SELECT ugnos_snapshot()", "SELECT ugnos_snapshot(1)"} {
		if _, err := sltRunArgs2(db, "acme", q); sqlState(err) != "42883" {
			t.Errorf("%s: %v (SQLSTATE %s), want 42883", q, err, sqlState(err))
		}
	}
}

// TestSnapshotFunction: SELECT ugnos_snapshot(path) copies the whole
// database (both tenants, whatever the session's database) once per call,
// never at planning; the copy verifies and restores into another database
// row for row; a non-empty target keeps the engine's SQLSTATE 58P02.
func TestSnapshotFunction(t *testing.T) {
	db := openDir(t, t.TempDir())
	adminFixture(t, db)
	if _, err := db.Exec(ctx, "acme", "CHECKPOINT"); err != nil { // some rows on disk, some in memory
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "acme", "INSERT INTO cpu VALUES ('2024-01-01 00:04:00+00', 'd', 5.5, 5)"); err != nil {
		t.Fatal(err)
	}
	want := adminContent(t, db)
	root := t.TempDir()

	// planning (EXPLAIN, Describe) must not take the snapshot
	planned := filepath.Join(root, "planned")
	if _, err := sltRunArgs2(db, "acme", "EXPLAIN SELECT ugnos_snapshot('"+planned+"')"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Describe(ctx, "acme", "SELECT ugnos_snapshot('"+planned+"')"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(planned); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("planning took a snapshot: %v", err)
	}

	// a literal: a second evaluation would fail on the non-empty target
	snap := filepath.Join(root, "snap1")
	got, err := sltRunArgs2(db, "postgres", "SELECT ugnos_snapshot('"+snap+"')")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != snap {
		t.Fatalf("ugnos_snapshot = %q, want [%s]", got, snap)
	}
	if err := ugnos.VerifySnapshot(snap); err != nil {
		t.Fatal(err)
	}
	// a parameter, with a path to clean
	snap2 := filepath.Join(root, "snap2")
	got, err = sltRunArgs2(db, "other", "SELECT ugnos_snapshot($1)", root+"/x/../snap2/")
	if err != nil || len(got) != 1 || got[0] != snap2 {
		t.Fatalf("ugnos_snapshot($1) = %q, %v", got, err)
	}

	// writes after the snapshot are not in it
	if _, err := db.Exec(ctx, "acme", "INSERT INTO cpu VALUES ('2024-01-01 00:05:00+00', 'e', 6.5, 6)"); err != nil {
		t.Fatal(err)
	}
	dst := openDir(t, t.TempDir())
	if err := dst.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := adminContent(t, dst); got != want {
		t.Fatalf("restored content:\n%s\nwant:\n%s", got, want)
	}
	mem := openMem(t)
	if err := mem.Restore(snap2); err != nil {
		t.Fatal(err)
	}
	if got := adminContent(t, mem); got != want {
		t.Fatalf("restored content (memory):\n%s\nwant:\n%s", got, want)
	}

	// refusals, each with its SQLSTATE
	for _, tc := range []struct {
		path, code string
	}{
		{snap, "58P02"},                            // exists and is not empty
		{"relative/dir", "22023"},                  // not absolute
		{"", "22023"},                              // empty
		{filepath.Join(snap, "SNAPSHOT"), "58P01"}, // a file, not a directory
	} {
		_, err := sltRunArgs2(db, "acme", "SELECT ugnos_snapshot($1)", tc.path)
		if sqlState(err) != tc.code {
			t.Errorf("ugnos_snapshot(%q): %v (SQLSTATE %s), want %s", tc.path, err, sqlState(err), tc.code)
		}
	}
	if got, err := sltRunArgs2(db, "acme", "SELECT ugnos_snapshot(NULL)"); err != nil || len(got) != 1 || got[0] != "(null)" {
		t.Errorf("ugnos_snapshot(NULL) = %q, %v; want NULL", got, err)
	}
}

// TestSnapshotInsideDataDir: a snapshot into the data directory is refused.
func TestSnapshotInsideDataDir(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir)
	_, err := sltRunArgs2(db, "postgres", "SELECT ugnos_snapshot($1)", filepath.Join(dir, "backup"))
	if sqlState(err) != "22023" || !strings.Contains(err.Error(), "inside the data directory") {
		t.Fatalf("snapshot inside the data directory: %v", err)
	}
}

// TestSnapshotDamagedRefused: VerifySnapshot and Restore refuse a snapshot
// with a flipped byte, and the target keeps its data.
func TestSnapshotDamagedRefused(t *testing.T) {
	src := openDir(t, t.TempDir())
	adminFixture(t, src)
	if _, err := src.Exec(ctx, "acme", "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap")
	if _, err := sltRunArgs2(src, "acme", "SELECT ugnos_snapshot($1)", snap); err != nil {
		t.Fatal(err)
	}
	snaptest.DamageSegment(t, snap)
	if err := ugnos.VerifySnapshot(snap); !errors.Is(err, ugnos.ErrCorrupt) {
		t.Fatalf("VerifySnapshot of a damaged snapshot: %v", err)
	}
	dst := openDir(t, t.TempDir())
	if _, err := dst.Exec(ctx, "keep", "CREATE DATABASE keep"); err != nil {
		t.Fatal(err)
	}
	if err := dst.Insert("keep", "m", 1e9, 42, ugnos.TagSet{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(snap); !errors.Is(err, ugnos.ErrCorrupt) || sqlState(err) != errs.CodeDataCorrupted {
		t.Fatalf("Restore of a damaged snapshot: %v", err)
	}
	if got, err := sltRunArgs2(dst, "keep", "SELECT value FROM m"); err != nil || strings.Join(got, ",") != "42" {
		t.Fatalf("target after a refused restore: %q, %v", got, err)
	}
	if err := ugnos.VerifySnapshot(t.TempDir()); !errors.Is(err, ugnos.ErrCorrupt) {
		t.Fatalf("VerifySnapshot of an empty directory: %v", err)
	}
}
