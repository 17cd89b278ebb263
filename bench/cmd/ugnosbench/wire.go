package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/tsbs"
	"github.com/ugnos/ugnos/pgtest"
	"github.com/ugnos/ugnos/pgwire"
)

const cpuDDL = `CREATE TABLE cpu (time timestamptz NOT NULL, hostname text, region text, datacenter text, rack text, os text,
 arch text, team text, service text, service_version text, service_environment text,
 usage_user double precision, usage_system double precision, usage_idle double precision, usage_nice double precision,
 usage_iowait double precision, usage_irq double precision, usage_softirq double precision, usage_steal double precision,
 usage_guest double precision, usage_guest_nice double precision)`

// runWire measures the PostgreSQL protocol: COPY FROM STDIN of the TSBS
// CSV into ugnos and into PostgreSQL 15, SELECT * streamed in binary to
// pgx, and many clients querying while COPY ingests.
func runWire(args []string) {
	fs := flag.NewFlagSet("pgwire", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	dur := fs.Duration("duration", 24*time.Hour, "time span")
	runs := fs.Int("runs", 3, "runs per measure (median)")
	clients := fs.Int("clients", 64, "concurrent query clients during the mixed run")
	dir := fs.String("dir", "../../shared/bench/tsbs-cpu-only", "directory of the query files")
	peer := fs.Bool("postgres", true, "also COPY into PostgreSQL 15 (needs postgresql-15)")
	fs.Parse(args)
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}
	var csv bytes.Buffer
	_, err := tsbs.WriteCSV(&csv, tsbs.New(cfg))
	check(err)
	rows := tsbs.New(cfg).Rows()
	fmt.Printf("ugnosbench pgwire: TSBS cpu-only CSV, %d rows (%.1f MB), GOMAXPROCS %d, %d runs, WAL fsynced per write\n",
		rows, float64(csv.Len())/1e6, runtime.GOMAXPROCS(0), *runs)
	ctx := context.Background()

	// COPY into ugnos, a fresh data directory per run
	var ucopy []float64
	var last *wireServer
	for run := 0; run < *runs; run++ {
		if last != nil {
			last.close()
		}
		s := startWire()
		conn := s.connect(ctx)
		ucopy = append(ucopy, timeCopy(ctx, conn, cpuDDL, csv.Bytes(), rows, "ugnos"))
		conn.Close(ctx)
		last = s
	}
	defer last.close()
	var pcopy []float64
	if *peer {
		pg, err := pgtest.Launch()
		check(err)
		defer pg.Stop()
		for run := 0; run < *runs; run++ {
			conn, err := pgx.Connect(ctx, pg.ConnStr)
			check(err)
			pcopy = append(pcopy, timeCopy(ctx, conn, "DROP TABLE IF EXISTS cpu; "+cpuDDL, csv.Bytes(), rows, "PostgreSQL"))
			conn.Close(ctx)
		}
	}
	fmt.Printf("\nCOPY cpu FROM STDIN (CSV), ugnos:        median %9.0f rows/s (runs %s)   target >= 1,000,000\n", median(ucopy), spread(ucopy))
	if *peer {
		fmt.Printf("COPY cpu FROM STDIN (CSV), PostgreSQL 15: median %9.0f rows/s (runs %s)   (fsync off, plain table)\n", median(pcopy), spread(pcopy))
		fmt.Printf("ratio ugnos / PostgreSQL: %.1fx   target >= 10x\n", median(ucopy)/median(pcopy))
	}

	// SELECT * streamed in binary
	conn := last.connect(ctx)
	var sel []float64
	for run := 0; run < *runs; run++ {
		start := time.Now()
		rs, err := conn.Query(ctx, "SELECT * FROM cpu", pgx.QueryResultFormats{pgx.BinaryFormatCode})
		check(err)
		n := 0
		for rs.Next() {
			_ = rs.RawValues()
			n++
		}
		check(rs.Err())
		el := time.Since(start)
		if n != rows {
			check(fmt.Errorf("SELECT * returned %d rows, want %d", n, rows))
		}
		sel = append(sel, float64(rows)/el.Seconds())
	}
	conn.Close(ctx)
	fmt.Printf("SELECT * FROM cpu to pgx, binary:        median %9.0f rows/s (runs %s)   target >= 2,000,000\n", median(sel), spread(sel))

	// many clients querying while COPY ingests another copy of the day
	files, err := filepath.Glob(filepath.Join(*dir, "*.sql"))
	check(err)
	sort.Strings(files)
	var names, queries []string
	for _, f := range files {
		q, err := os.ReadFile(f)
		check(err)
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".sql"))
		queries = append(queries, string(q))
	}
	if len(queries) == 0 {
		check(fmt.Errorf("no query files in %s", *dir))
	}
	c0 := last.connect(ctx)
	_, err = c0.Exec(ctx, strings.Replace(cpuDDL, "TABLE cpu", "TABLE cpu2", 1))
	check(err)
	var stop atomic.Bool
	var errCount atomic.Int64
	var mu sync.Mutex
	lat := map[string][]float64{}
	var wg sync.WaitGroup
	for cl := 0; cl < *clients; cl++ {
		wg.Add(1)
		go func(cl int) {
			defer wg.Done()
			c := last.connect(ctx)
			defer c.Close(ctx)
			for i := cl; !stop.Load(); i++ {
				k := i % len(queries)
				start := time.Now()
				rs, err := c.Query(ctx, queries[k])
				if err == nil {
					for rs.Next() {
					}
					err = rs.Err()
				}
				if err != nil {
					errCount.Add(1)
					fmt.Fprintf(os.Stderr, "client %d, %s: %v\n", cl, names[k], err)
					continue
				}
				mu.Lock()
				lat[names[k]] = append(lat[names[k]], float64(time.Since(start).Microseconds())/1000)
				mu.Unlock()
			}
		}(cl)
	}
	start := time.Now()
	tag, err := c0.PgConn().CopyFrom(ctx, bytes.NewReader(csv.Bytes()), "COPY cpu2 FROM STDIN WITH (FORMAT csv, HEADER)")
	check(err)
	copyEl := time.Since(start)
	stop.Store(true)
	wg.Wait()
	c0.Close(ctx)
	fmt.Printf("\n%d clients running the 15 TSBS queries while COPY ingests %d rows into cpu2 (%.0f rows/s, %v): %d errors\n",
		*clients, tag.RowsAffected(), float64(tag.RowsAffected())/copyEl.Seconds(), copyEl.Round(time.Millisecond), errCount.Load())
	fmt.Printf("%-24s %8s %10s %10s\n", "query", "runs", "p50 ms", "p99 ms")
	for _, n := range names {
		xs := lat[n]
		sort.Float64s(xs)
		if len(xs) == 0 {
			fmt.Printf("%-24s %8d %10s %10s\n", n, 0, "-", "-")
			continue
		}
		fmt.Printf("%-24s %8d %10.1f %10.1f\n", n, len(xs), xs[len(xs)/2], xs[min(len(xs)-1, len(xs)*99/100)])
	}
}

// timeCopy creates the table (ddl), COPYs the CSV into it and returns
// rows/s; the stored row count is checked.
func timeCopy(ctx context.Context, conn *pgx.Conn, ddl string, csv []byte, rows int, who string) float64 {
	_, err := conn.Exec(ctx, ddl)
	check(err)
	start := time.Now()
	tag, err := conn.PgConn().CopyFrom(ctx, bytes.NewReader(csv), "COPY cpu FROM STDIN WITH (FORMAT csv, HEADER)")
	check(err)
	el := time.Since(start)
	if tag.RowsAffected() != int64(rows) {
		check(fmt.Errorf("%s COPY stored %d rows, want %d", who, tag.RowsAffected(), rows))
	}
	return float64(rows) / el.Seconds()
}

// wireServer is ugnos serving pgwire on a loopback port.
type wireServer struct {
	db   *ugnos.DB
	srv  *pgwire.Server
	addr string
	dir  string
}

func startWire() *wireServer {
	dir, err := os.MkdirTemp("", "ugnosbench-wire-")
	check(err)
	db, err := ugnos.Open(dir)
	check(err)
	srv, err := pgwire.New(db, pgwire.Config{Version: "bench"})
	check(err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go srv.Serve(l)
	return &wireServer{db: db, srv: srv, addr: l.Addr().String(), dir: dir}
}

func (s *wireServer) connect(ctx context.Context) *pgx.Conn {
	c, err := pgx.Connect(ctx, "postgres://ugnos@"+s.addr+"/postgres?sslmode=disable")
	check(err)
	return c
}

func (s *wireServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	s.db.Close()
	os.RemoveAll(s.dir)
}
