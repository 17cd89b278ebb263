//go:build linux

package ugnos_test

// ASOF joins (the LATERAL ... ORDER BY time DESC LIMIT 1 pattern) against
// PostgreSQL 15 running the same queries natively, and a check that the
// plan uses the as-of operator rather than a nested loop.

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

// asofRow is a trade or a quote: time (whole µs), symbol, venue, two
// values (px and qty for trades, bid and ask for quotes).
type asofRow struct {
	t        time.Time
	sym, ven string
	a, b     float64
}

// asofData makes quotes with distinct times (no ties) and trades that
// partly fall on quote times exactly, partly before any quote, and partly
// on symbols without quotes.
func asofData() (trades, quotes []asofRow) {
	r := rand.New(rand.NewPCG(7, 7))
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	syms := []string{"A", "B", "C", "D", "E"}
	vens := []string{"x", "y"}
	used := map[int]bool{}
	for len(quotes) < 3000 {
		us := 1000 + r.IntN(1_000_000)
		if used[us] {
			continue
		}
		used[us] = true
		quotes = append(quotes, asofRow{start.Add(time.Duration(us) * time.Microsecond), syms[r.IntN(4)], vens[r.IntN(2)],
			float64(r.IntN(10000)) / 100, float64(r.IntN(10000)) / 100})
	}
	for i := 0; i < 2000; i++ {
		var at time.Time
		switch r.IntN(4) {
		case 0:
			at = quotes[r.IntN(len(quotes))].t // exact match
		default:
			at = start.Add(time.Duration(r.IntN(1_002_000)) * time.Microsecond)
		}
		trades = append(trades, asofRow{at, syms[r.IntN(5)], vens[r.IntN(2)], float64(r.IntN(10000)) / 100, float64(i)})
	}
	return trades, quotes
}

func asofLoadPG(t *testing.T, conn *pgx.Conn, table, a, b string, rows []asofRow) {
	t.Helper()
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (time timestamptz NOT NULL, sym text, venue text, %s double precision, %s double precision)", table, a, b)); err != nil {
		t.Fatal(err)
	}
	data := make([][]any, len(rows))
	for i, r := range rows {
		data[i] = []any{r.t, r.sym, r.ven, r.a, r.b}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, []string{"time", "sym", "venue", a, b}, pgx.CopyFromRows(data)); err != nil {
		t.Fatal(err)
	}
}

func asofLoadUgnos(t *testing.T, db *ugnos.DB, table, a, b string, rows []asofRow) {
	t.Helper()
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrowstore.TimeType},
		{Name: "sym", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: "venue", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: a, Type: arrow.PrimitiveTypes.Float64, Nullable: true}, {Name: b, Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	for s := 0; s < len(rows); s += 700 { // several writes: several batches
		rb := array.NewRecordBuilder(mem, schema)
		for _, r := range rows[s:min(s+700, len(rows))] {
			rb.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r.t.UnixNano()))
			rb.Field(1).(*array.StringBuilder).Append(r.sym)
			rb.Field(2).(*array.StringBuilder).Append(r.ven)
			rb.Field(3).(*array.Float64Builder).Append(r.a)
			rb.Field(4).(*array.Float64Builder).Append(r.b)
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		err := db.WriteRecord(ctx, "t", table, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if s == 1400 {
			db.Flush()
		}
	}
}

var asofQueries = []string{
	`SELECT t.qty, t.sym, q.bid, q.ask FROM trades t LEFT JOIN LATERAL (
	   SELECT bid, ask FROM quotes WHERE quotes.sym = t.sym AND quotes.time <= t.time
	   ORDER BY quotes.time DESC LIMIT 1) AS q ON true`,
	`SELECT t.qty, q.bid, q.qt FROM trades t LEFT JOIN LATERAL (
	   SELECT bid, time AS qt FROM quotes WHERE quotes.sym = t.sym AND quotes.time < t.time
	   ORDER BY quotes.time DESC LIMIT 1) AS q ON true`,
	`SELECT t.qty, q.bid, q.venue FROM trades t CROSS JOIN LATERAL (
	   SELECT bid, venue FROM quotes WHERE quotes.sym = t.sym AND quotes.venue = t.venue AND quotes.time <= t.time
	   ORDER BY quotes.time DESC LIMIT 1) AS q`,
	`SELECT t.qty, q.mid, q.spread FROM trades t JOIN LATERAL (
	   SELECT (bid + ask) / 2 AS mid, ask - bid AS spread FROM quotes WHERE t.sym = sym AND t.venue = venue AND t.time > time
	   ORDER BY time DESC LIMIT 1) AS q ON true`,
	`SELECT t.qty, q.* FROM trades t LEFT JOIN LATERAL (
	   SELECT * FROM quotes WHERE quotes.sym = t.sym AND quotes.bid > 50 AND quotes.time <= t.time
	   ORDER BY quotes.time DESC LIMIT 1) AS q ON true`,
	`SELECT t.qty, q.bid FROM trades t LEFT JOIN LATERAL (
	   SELECT bid FROM quotes WHERE quotes.time <= t.time
	   ORDER BY quotes.time DESC LIMIT 1) AS q ON true WHERE t.px > 20`,
	`SELECT t.sym, count(q.bid), sum(q.bid) FROM trades t LEFT JOIN LATERAL (
	   SELECT bid FROM quotes WHERE quotes.sym = t.sym AND quotes.time <= t.time
	   ORDER BY quotes.time DESC LIMIT 1) AS q ON true GROUP BY t.sym`,
	`SELECT t.qty, x.bid, y.ask FROM trades t JOIN LATERAL (
	   SELECT bid, sym, venue FROM quotes WHERE quotes.sym = t.sym AND quotes.time <= t.time
	   ORDER BY quotes.time DESC LIMIT 1) x ON true LEFT JOIN LATERAL (
	   SELECT ask FROM quotes q2 WHERE q2.sym = x.sym AND q2.venue = x.venue AND q2.time < t.time
	   ORDER BY q2.time DESC FETCH FIRST 1 ROW ONLY) y ON true`,
	`SELECT t.qty, x.bid FROM (SELECT * FROM trades WHERE px > 10) t JOIN LATERAL (
	   SELECT bid FROM quotes WHERE sym = t.sym AND time <= t.time
	   ORDER BY time DESC LIMIT 1) x ON true`,
}

func TestPGAsof(t *testing.T) {
	conn := pgdConnect(t)
	trades, quotes := asofData()
	asofLoadPG(t, conn, "trades", "px", "qty", trades)
	asofLoadPG(t, conn, "quotes", "bid", "ask", quotes)
	db := openMem(t)
	asofLoadUgnos(t, db, "trades", "px", "qty", trades)
	asofLoadUgnos(t, db, "quotes", "bid", "ask", quotes)
	for i, q := range asofQueries {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			pgdCheck(t, conn, db, q, false, 0, true)
			// the answer must come from the as-of operator
			plan, err := sltRun(db, "EXPLAIN "+q)
			if err != nil {
				t.Fatal(err)
			}
			if p := strings.Join(plan, "\n"); !strings.Contains(p, "AsofJoin") || strings.Contains(p, "\nJoin") {
				t.Errorf("plan without AsofJoin:\n%s", p)
			}
		})
	}
}
