package pgwire_test

import (
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
)

// TestAdminCheckpointSnapshot runs CHECKPOINT and ugnos_snapshot(path)
// through pgx, over the simple and the extended protocol.
func TestAdminCheckpointSnapshot(t *testing.T) {
	ts := startServer(t)
	c := ts.connect(t, "postgres")
	if _, err := c.Exec(ctx, setup); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		ct, err := c.Exec(ctx, "CHECKPOINT", mode)
		if err != nil {
			t.Fatalf("CHECKPOINT (%v): %v", mode, err)
		}
		if ct.String() != "CHECKPOINT" {
			t.Errorf("CHECKPOINT (%v): command tag %q", mode, ct.String())
		}
	}
	if m := ts.db.Metrics(); m.Segments == 0 || m.DiskRows != 3 {
		t.Fatalf("after CHECKPOINT: %d segments, %d rows on disk", m.Segments, m.DiskRows)
	}
	if _, err := c.Exec(ctx, "INSERT INTO cpu (time, hostname, n) VALUES ('2016-01-01 00:00:30+00', 'c', 4)"); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	var got string
	// extended protocol: Parse, Describe, Bind, Execute
	snap := filepath.Join(root, "snap")
	if err := c.QueryRow(ctx, "SELECT ugnos_snapshot($1)", snap).Scan(&got); err != nil || got != snap {
		t.Fatalf("SELECT ugnos_snapshot($1) = %q, %v", got, err)
	}
	// simple protocol, a literal
	snap2 := filepath.Join(root, "snap2")
	if err := c.QueryRow(ctx, "SELECT ugnos_snapshot('"+snap2+"')", pgx.QueryExecModeSimpleProtocol).Scan(&got); err != nil || got != snap2 {
		t.Fatalf("SELECT ugnos_snapshot('...') = %q, %v", got, err)
	}
	if err := c.QueryRow(ctx, "SELECT ugnos_snapshot($1)", snap).Scan(&got); sqlState(err) != "58P02" {
		t.Fatalf("snapshot into a non-empty directory: %v (SQLSTATE %q), want 58P02", err, sqlState(err))
	}
	if err := c.QueryRow(ctx, "SELECT ugnos_checkpoint()").Scan(&got); err != nil || got == "" {
		t.Fatalf("ugnos_checkpoint() = %q, %v", got, err)
	}
	// the connection is still usable after the error
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM cpu").Scan(&n); err != nil || n != 4 {
		t.Fatalf("count = %d, %v", n, err)
	}

	for _, p := range []string{snap, snap2} {
		if err := ugnos.VerifySnapshot(p); err != nil {
			t.Fatal(err)
		}
		db, err := ugnos.Open("")
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Restore(p); err != nil {
			t.Fatal(err)
		}
		m := db.Metrics()
		db.Close()
		if m.Points != 4 || m.Tables != 1 {
			t.Errorf("restored %s: %d points in %d tables, want 4 in 1", p, m.Points, m.Tables)
		}
	}
}
