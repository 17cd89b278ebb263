package main

// ugnosbench asof: an as-of join of trades with the latest quote of their
// symbol at or before each trade, in ugnos (LEFT JOIN LATERAL ... ORDER BY
// time DESC LIMIT 1, run as an AsofJoin) and in DuckDB (its native ASOF
// LEFT JOIN), on the same data in the same process.
//
//	go run ./cmd/ugnosbench asof                      # 1 M trades, 10 M quotes, 100 symbols
//	go run ./cmd/ugnosbench asof -trades 100000 -quotes 1000000 -duckdb=false
//
// The data come from closed formulas evaluated alike in Go and in DuckDB
// SQL, so both engines hold the same rows without a transfer: quote i at
// start + i*span/quotes (distinct times: no ties), symbol
// (i*2654435761 mod 1000003) mod syms, bid (i*31 mod 10007)/100; trade j
// at start + (j*2654435761 mod span µs), symbol (j*7) mod syms.

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/pprof"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

const (
	asofStartUs = 1704067200000000 // 2024-01-01 00:00:00 UTC in µs
	asofSpanUs  = 86400000000      // one day
)

func asofQuoteSym(i, syms int64) int64 { return i * 2654435761 % 1000003 % syms }
func asofQuoteBid(i int64) float64     { return float64(i*31%10007) / 100 }
func asofQuoteUs(i, n int64) int64     { return asofStartUs + i*(asofSpanUs/n) }
func asofTradeUs(j int64) int64        { return asofStartUs + j*2654435761%asofSpanUs }
func asofTradeSym(j, syms int64) int64 { return j * 7 % syms }

const asofUgnosQuery = `SELECT count(*), count(q.bid), sum(q.bid) FROM trades t LEFT JOIN LATERAL (
  SELECT bid FROM quotes WHERE quotes.sym = t.sym AND quotes.time <= t.time
  ORDER BY quotes.time DESC LIMIT 1) AS q ON true`

const asofDuckQuery = `SELECT count(*), count(q.bid), sum(q.bid) FROM trades t
  ASOF LEFT JOIN quotes q ON t.sym = q.sym AND t.time >= q.time`

func runAsof(args []string) {
	fs := flag.NewFlagSet("asof", flag.ExitOnError)
	nTrades := fs.Int64("trades", 1_000_000, "trades")
	nQuotes := fs.Int64("quotes", 10_000_000, "quotes")
	syms := fs.Int64("symbols", 100, "symbols")
	runs := fs.Int("runs", 5, "timed runs (median)")
	warmup := fs.Int("warmup", 2, "untimed runs first")
	peer := fs.Bool("duckdb", true, "also run DuckDB's ASOF JOIN on the same data")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of the ugnos runs here")
	fs.Parse(args)
	warmupRuns = *warmup
	fmt.Printf("ugnosbench asof: %d trades, %d quotes, %d symbols\n", *nTrades, *nQuotes, *syms)

	db, err := ugnos.Open("")
	check(err)
	defer db.Close()
	start := time.Now()
	asofLoad(db, "quotes", *nQuotes, func(i int64) (int64, int64, float64) {
		return asofQuoteUs(i, *nQuotes), asofQuoteSym(i, *syms), asofQuoteBid(i)
	})
	asofLoad(db, "trades", *nTrades, func(j int64) (int64, int64, float64) {
		return asofTradeUs(j), asofTradeSym(j, *syms), float64(j)
	})
	fmt.Printf("ugnos: loaded in %v\n", time.Since(start).Round(time.Millisecond))
	var cnt, matched int64
	var sum float64
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	ms, _, err := timeIt(*runs, func() (int, error) {
		var err error
		cnt, matched, sum, err = asofUgnos(db)
		return 1, err
	})
	check(err)
	if *cpuprof != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("ugnos  ASOF (LEFT JOIN LATERAL): %9.1f ms  rows %d, matched %d, sum(bid) %.2f\n", ms, cnt, matched, sum)
	if !*peer {
		return
	}
	duck, err := openDuckEmpty()
	check(err)
	defer duck.db.Close()
	start = time.Now()
	_, err = duck.db.Exec(fmt.Sprintf(`CREATE TABLE quotes AS SELECT
		make_timestamp(%d + i * (%d // %d)) AS time,
		'S' || lpad(CAST(i * 2654435761 %% 1000003 %% %d AS VARCHAR), 3, '0') AS sym,
		CAST(i * 31 %% 10007 AS DOUBLE) / 100 AS bid
		FROM range(%d) r(i)`, asofStartUs, asofSpanUs, *nQuotes, *syms, *nQuotes))
	check(err)
	_, err = duck.db.Exec(fmt.Sprintf(`CREATE TABLE trades AS SELECT
		make_timestamp(%d + j * 2654435761 %% %d) AS time,
		'S' || lpad(CAST(j * 7 %% %d AS VARCHAR), 3, '0') AS sym,
		CAST(j AS DOUBLE) AS id
		FROM range(%d) r(j)`, asofStartUs, asofSpanUs, *syms, *nTrades))
	check(err)
	fmt.Printf("DuckDB: loaded in %v\n", time.Since(start).Round(time.Millisecond))
	var dcnt, dmatched int64
	var dsum float64
	dms, _, err := timeIt(*runs, func() (int, error) {
		return 1, duck.db.QueryRow(asofDuckQuery).Scan(&dcnt, &dmatched, &dsum)
	})
	check(err)
	fmt.Printf("DuckDB ASOF LEFT JOIN:          %9.1f ms  rows %d, matched %d, sum(bid) %.2f\n", dms, dcnt, dmatched, dsum)
	fmt.Printf("ratio ugnos/DuckDB: %.2f  (target <= 1)\n", ms/dms)
	if dcnt != cnt || dmatched != matched || math.Abs(dsum-sum) > 1e-6*math.Abs(dsum) {
		fmt.Println("RESULTS DIFFER")
	}
}

// asofLoad writes n rows (time µs, symbol number, value) into table.
func asofLoad(db *ugnos.DB, table string, n int64, row func(int64) (int64, int64, float64)) {
	vname := "bid"
	if table == "trades" {
		vname = "id"
	}
	schema := arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrowstore.TimeType},
		{Name: "sym", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: vname, Type: arrow.PrimitiveTypes.Float64, Nullable: true}}, nil)
	const chunk = 200_000
	for s := int64(0); s < n; s += chunk {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		tb := rb.Field(0).(*array.TimestampBuilder)
		sb := rb.Field(1).(*array.StringBuilder)
		vb := rb.Field(2).(*array.Float64Builder)
		for i := s; i < min(s+chunk, n); i++ {
			us, sym, v := row(i)
			tb.Append(arrow.Timestamp(us * 1000))
			sb.Append(fmt.Sprintf("S%03d", sym))
			vb.Append(v)
		}
		rec := rb.NewRecordBatch()
		rb.Release()
		check(db.WriteRecord(context.Background(), "bench", table, rec))
		rec.Release()
	}
}

func asofUgnos(db *ugnos.DB) (cnt, matched int64, sum float64, err error) {
	rd, err := db.SQL(context.Background(), "bench", asofUgnosQuery)
	if err != nil {
		return 0, 0, 0, err
	}
	defer rd.Release()
	for rd.Next() {
		rec := rd.RecordBatch()
		if rec.NumRows() == 1 {
			cnt = rec.Column(0).(*array.Int64).Value(0)
			matched = rec.Column(1).(*array.Int64).Value(0)
			sum = rec.Column(2).(*array.Float64).Value(0)
		}
	}
	return cnt, matched, sum, rd.Err()
}
