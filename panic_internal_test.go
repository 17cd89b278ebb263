package ugnos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/internal/syncbuf"
)

// TestPanicFailsTheStatement: a bug that panics while a statement is
// planned, while its rows are read, or in a parallel aggregate's worker
// fails that statement with XX000 and an error log with the stack; the
// process and the next statements go on. (The panics come from functions
// this test adds; no real one is known to panic.)
func TestPanicFailsTheStatement(t *testing.T) {
	logs := &syncbuf.Buffer{}
	db, err := Open("", WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := db.CreateDatabase("acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, "acme", "CREATE TABLE t (time timestamptz, host text, v double precision)"); err != nil {
		t.Fatal(err)
	}
	for b := range 8 { // several batches, so that aggregates run in parallel
		var vals []string
		for i := range 500 {
			vals = append(vals, fmt.Sprintf("('2024-01-01 00:00:00+00'::timestamptz + interval '%d seconds', 'h%d', %d)", b*500+i, i%4, i))
		}
		if _, err := db.Exec(ctx, "acme", "INSERT INTO t VALUES "+strings.Join(vals, ",")); err != nil {
			t.Fatal(err)
		}
		db.Flush()
	}
	boom := func(name string, atPlan bool) *functions.Scalar {
		return &functions.Scalar{Name: name, Resolve: func(a []functions.Type) (functions.Type, functions.Kernel, error) {
			if atPlan {
				panic("boom while planning")
			}
			return functions.TFloat, func(args []functions.Vec, n int) (functions.Vec, error) {
				panic("boom while running")
			}, nil
		}}
	}
	db.reg = db.reg.With(boom("boom_plan", true), boom("boom_run", false))
	for _, q := range []string{
		"SELECT boom_plan(v) FROM t",
		"SELECT boom_run(v) FROM t",
		"SELECT host, sum(boom_run(v)) FROM t GROUP BY host",
		"SELECT count(*) FROM t WHERE boom_run(v) > 0",
	} {
		rd, err := db.SQL(ctx, "acme", q)
		if err == nil {
			for rd.Next() {
			}
			err = rd.Err()
			rd.Release()
		}
		var pe *errs.PanicError
		if errs.SQLState(err) != errs.CodeInternal || !errors.As(err, &pe) || !strings.Contains(err.Error(), "boom while") {
			t.Errorf("%s: %v, want XX000 from the panic", q, err)
		}
		res, err := db.Exec(ctx, "acme", "SELECT count(*) FROM t")
		if err != nil {
			t.Fatalf("after %s: %v", q, err)
		}
		res.Rows.Next()
		if got := res.Rows.RecordBatch().Column(0).ValueStr(0); got != "4000" {
			t.Errorf("after %s: count %s", q, got)
		}
		res.Rows.Release()
	}
	if out := logs.String(); !strings.Contains(out, "panic running a statement") || !strings.Contains(out, "boom while planning") {
		t.Errorf("no error log for the planning panic:\n%s", out)
	}
}
