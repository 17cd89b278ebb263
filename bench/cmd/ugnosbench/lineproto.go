package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/bench/tsbs"
	"github.com/ugnos/ugnos/httpapi"
)

// runLineProto measures InfluxDB line-protocol writes over HTTP: the TSBS
// day as line protocol (tsbs.WriteLineProtocol) posted in batches by
// concurrent senders to /api/v2/write of an in-process server on a
// loopback httptest listener, into a fresh data directory per run with
// the WAL fsynced on every acknowledged write (the default).
//
//	go run ./cmd/ugnosbench lineproto                     # 4 senders, 5,000 lines a request, 3 runs
//	go run ./cmd/ugnosbench lineproto -gzip -cpuprofile lp.prof
func runLineProto(args []string) {
	fs := flag.NewFlagSet("lineproto", flag.ExitOnError)
	hosts := fs.Int("hosts", 100, "hosts (scale)")
	dur := fs.Duration("duration", 24*time.Hour, "time span")
	lines := fs.Int("batch", 5000, "lines per request")
	senders := fs.Int("senders", 4, "concurrent HTTP senders")
	runs := fs.Int("runs", 3, "runs (median)")
	gz := fs.Bool("gzip", false, "gzip request bodies (compressed before timing)")
	cpuprof := fs.String("cpuprofile", "", "write a CPU profile of all runs here")
	fs.Parse(args)
	cfg := tsbs.Config{Hosts: *hosts, Start: tsbs.DefaultStart, End: tsbs.DefaultStart.Add(*dur), Seed: tsbs.DefaultSeed}

	var lp bytes.Buffer
	_, err := tsbs.WriteLineProtocol(&lp, tsbs.New(cfg))
	check(err)
	rows := tsbs.New(cfg).Rows()
	bodies := splitLines(lp.Bytes(), *lines)
	if *gz {
		for i, b := range bodies {
			bodies[i] = gzipBytes(b)
		}
	}
	fmt.Printf("ugnosbench lineproto: TSBS cpu-only line protocol, %d rows (%.1f MB), %d requests of %d lines, %d senders, gzip %v, GOMAXPROCS %d, %d runs, WAL fsynced per write\n",
		rows, float64(lp.Len())/1e6, len(bodies), *lines, *senders, *gz, runtime.GOMAXPROCS(0), *runs)

	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var rates []float64
	for run := 0; run < *runs; run++ {
		el := postAll(bodies, *senders, *gz, int64(rows))
		rate := float64(rows) / el.Seconds()
		rates = append(rates, rate)
		fmt.Printf("  run %d: %.2f s, %.3f M rows/s (%.1f M metrics/s)\n", run+1, el.Seconds(), rate/1e6, rate*float64(len(tsbs.FieldNames))/1e6)
	}
	m := median(rates)
	fmt.Printf("line protocol over HTTP: median %.3f M rows/s (%.1f M metrics/s), runs %s\n", m/1e6, m*float64(len(tsbs.FieldNames))/1e6, spread(rates))
}

// postAll writes every body into a fresh database and checks the row count.
func postAll(bodies [][]byte, senders int, gz bool, rows int64) time.Duration {
	dir, err := os.MkdirTemp("", "ugnosbench-lineproto-")
	check(err)
	defer os.RemoveAll(dir)
	db, err := ugnos.Open(dir)
	check(err)
	defer db.Close()
	srv := httptest.NewServer(httpapi.New(db, httpapi.Config{Version: "bench"}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, DisableCompression: true}}
	url := srv.URL + "/api/v2/write?bucket=bench&precision=ns"
	runtime.GC()

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				check(err)
				req.Header.Set("Content-Type", "text/plain; charset=utf-8")
				if gz {
					req.Header.Set("Content-Encoding", "gzip")
				}
				resp, err := client.Do(req)
				check(err)
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					check(fmt.Errorf("request %d: %s: %s", i, resp.Status, msg))
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)

	rr, err := db.SQL(context.Background(), "bench", "SELECT count(*) FROM cpu")
	check(err)
	defer rr.Release()
	if !rr.Next() {
		check(fmt.Errorf("count: no rows: %v", rr.Err()))
	}
	if got := rr.RecordBatch().Column(0).(*array.Int64).Value(0); got != rows {
		check(fmt.Errorf("SELECT count(*) FROM cpu = %d, want %d", got, rows))
	}
	return el
}

// splitLines cuts line protocol into bodies of n lines each.
func splitLines(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		end, k := 0, 0
		for k < n && end < len(b) {
			i := bytes.IndexByte(b[end:], '\n')
			if i < 0 {
				end = len(b)
				break
			}
			end += i + 1
			k++
		}
		out = append(out, b[:end])
		b = b[end:]
	}
	return out
}

func gzipBytes(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, err := zw.Write(b)
	check(err)
	check(zw.Close())
	return out.Bytes()
}
