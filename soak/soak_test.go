package soak_test

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// memLimit is the server's --memory-limit: small, so the run goes through
// checkpoints and compactions, and writers may meet the limit's back-pressure.
const (
	memLimit      = "64MiB"
	memLimitBytes = 64 << 20
)

// queryWorkingSet is what one client's query may hold while it runs: a
// scan runs as two partitions (one per core), each decoding a segment row
// group (65,536 rows × 14 columns × 8 B = 7 MiB).
const queryWorkingSet = 2 * 65536 * 14 * 8

// rssBound is the resident memory the server may reach with n clients.
// --memory-limit bounds only the rows kept in memory: up to twice the limit
// (writers wait above that), plus the segment cache (a quarter of it) and a
// compaction unit (half of it); queries are bounded per query only
// (WithQueryMemoryLimit, 2 GiB), so each client may add a query's working
// set. The Go collector lets the heap reach twice what is live (GOGC=100,
// no GOMEMLIMIT), and the runtime, parser and sessions take a fixed 128 MiB.
// For 64 MiB and 64 clients: 2×(176 + 64×14) + 128 = 2272 MiB. Measured
// on 2 shared cores: 320–510 MiB after 15 s; 10 min climbed to 1.0–1.2 GiB
// by the third minute and stayed there (max 1208 MiB). The bound catches
// growth without bound (before the LastRows fix, 1.7 GiB after 3 min and
// rising), not a few hundred MiB.
func rssBound(clients int) int64 {
	return 2*(memLimitBytes*11/4+int64(clients)*queryWorkingSet) + 128<<20
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestSoak is the load and soak test (see doc.go). UGNOS_SOAK_DURATION
// (default 15s) sets the time under load, UGNOS_SOAK_CLIENTS (default 64)
// the number of concurrent clients.
func TestSoak(t *testing.T) {
	dur := 15 * time.Second
	if v := os.Getenv("UGNOS_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("UGNOS_SOAK_DURATION: %v", err)
		}
		dur = d
	}
	nClients := envInt("UGNOS_SOAK_CLIENTS", 64)
	ctx := context.Background()
	tmp := t.TempDir()
	dataDir, snapDir := filepath.Join(tmp, "data"), filepath.Join(tmp, "snapshots")
	if err := os.Mkdir(snapDir, 0o755); err != nil {
		t.Fatal(err)
	}

	srv := startServer(t, dataDir, memLimit)
	pc, err := pgx.Connect(ctx, srv.dsn("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, pc, "CREATE DATABASE soak")
	pc.Close(ctx)
	sc, err := pgx.Connect(ctx, srv.dsn("soak"))
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, sc, createTable)
	sc.Close(ctx)

	var killed atomic.Bool
	httpc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: nClients}}
	clients := make([]*client, nClients)
	for i := range clients {
		c := &client{id: i, tag: clientTag(i), srv: srv, http: httpc, st: newStats(),
			rng: rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano()))), killed: &killed}
		switch i {
		case 0:
			c.admin, c.snapDir = 10*time.Second, snapDir
		case 1:
			c.admin = 5 * time.Second
		}
		if err := c.connect(ctx); err != nil {
			t.Fatal(err)
		}
		clients[i] = c
	}

	// Load.
	rss := sampleRSS(srv.cmd.Process.Pid, 100*time.Millisecond)
	start := time.Now()
	runClients(ctx, clients, start.Add(dur), false)
	elapsed := time.Since(start)
	rss.close()
	st, _ := procStatus(srv.cmd.Process.Pid)
	for _, c := range clients {
		c.close()
	}
	httpc.CloseIdleConnections()
	total := newStats()
	for _, c := range clients {
		total.merge(c.st)
	}
	checkErrors(t, "load", total)

	// Every acknowledged row is there, on the server that took them.
	verify(t, srv, clients, "after the load")
	checkServerIdle(t, srv)
	if last := clients[0].lastSnap; last != "" {
		if out, err := exec.Command(binary, "verify-snapshot", last).CombinedOutput(); err != nil {
			t.Errorf("verify-snapshot %s: %v\n%s", last, err, out)
		} else {
			checkSnapshot(t, clients, filepath.Join(tmp, "restored"))
		}
	}

	// Goroutines left once the 64 clients are gone: SIGQUIT's dump (an
	// abrupt exit too, so the restart replays the WAL).
	gLoad, statesLoad, dumpLoad := srv.goroutineDump(t)

	// Restart: everything is still there.
	srv = startServer(t, dataDir, memLimit)
	verify(t, srv, clients, "after SIGQUIT and restart")

	// kill -9 while 8 clients write: acknowledged writes survive, the ones
	// cut off are stored whole or not at all.
	burst := clients[:min(8, len(clients))]
	burstStats := newStats()
	for _, c := range burst {
		c.srv, c.st = srv, newStats()
	}
	done := make(chan struct{})
	go func() {
		runClients(ctx, burst, time.Now().Add(time.Minute), true)
		close(done)
	}()
	time.Sleep(1500 * time.Millisecond)
	killed.Store(true)
	srv.kill9(t)
	<-done
	for _, c := range burst {
		c.close()
		burstStats.merge(c.st)
	}
	checkErrors(t, "kill -9 burst", burstStats)
	srv = startServer(t, dataDir, memLimit)
	verify(t, srv, clients, "after kill -9 and restart")
	gIdle, _, _ := srv.goroutineDump(t)

	// Summary.
	var acked int64
	for _, n := range total.rows {
		acked += n
	}
	var lat []time.Duration
	queries := 0
	for _, name := range slices.Sorted(maps.Keys(total.latency)) {
		ds := total.latency[name]
		if !slices.ContainsFunc(tsbsQueries, func(q tsbsQueryType) bool { return q.name == name }) {
			t.Logf("  %-22s n=%-5d p50=%-10v p99=%-10v max=%v", name, len(ds), percentile(ds, .5).Round(time.Millisecond), percentile(ds, .99).Round(time.Millisecond), slices.Max(ds).Round(time.Millisecond))
			continue
		}
		lat = append(lat, ds...)
		queries += len(ds)
		t.Logf("  %-22s n=%-5d p50=%-10v p99=%v", name, len(ds), percentile(ds, .5).Round(time.Millisecond), percentile(ds, .99).Round(time.Millisecond))
	}
	t.Logf("soak: %d clients for %v: acknowledged rows %v (%d, %.0f rows/s), deleted %d; ops %v",
		nClients, elapsed.Round(time.Millisecond), total.rows, acked, float64(acked)/elapsed.Seconds(), total.deleted, total.ops)
	t.Logf("soak: %d TSBS queries, p50 %v p99 %v", queries, percentile(lat, .5).Round(time.Millisecond), percentile(lat, .99).Round(time.Millisecond))
	t.Logf("soak: RSS max sampled %d MiB (mean %d MiB over %d samples), VmHWM %d MiB, bound %d MiB (memory limit %s); threads max %d",
		rss.maxRSS>>10, rss.sumRSS/int64(max(1, rss.samples))>>10, rss.samples, st["VmHWM"]>>10, rssBound(nClients)>>20, memLimit, rss.maxThreads)
	t.Logf("soak: largest RSS of each 10 s: %s", strings.Join(rss.timeline, " "))
	t.Logf("soak: errors by class: load %v, burst %v", total.errs, burstStats.errs)
	t.Logf("soak: goroutines after the load with every client gone %d %v; after restart and checks only %d", gLoad, statesLoad, gIdle)

	if hwm := max(st["VmHWM"], rss.maxRSS) << 10; hwm > rssBound(nClients) {
		t.Errorf("resident memory peaked at %d MiB, over the bound of %d MiB", hwm>>20, rssBound(nClients)>>20)
	}
	// The loaded server, its clients gone, runs the same background
	// goroutines as one that only served the checks; a leak per session or
	// query (64 sessions, thousands of queries) would show far above.
	if gLoad > gIdle+32 {
		t.Errorf("%d goroutines after the load, %d on an idle restart: a leak?\n%s", gLoad, gIdle, tail(dumpLoad, 32<<10))
	}
}

func mustExec(t *testing.T, c *pgx.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// checkErrors fails the test on any error of a class the test did not
// provoke itself, with a sample message of each.
func checkErrors(t *testing.T, phase string, s *stats) {
	t.Helper()
	for class, n := range s.errs {
		if !expectedErr(class) {
			t.Errorf("%s: %d unexpected errors of class %s, e.g. %s", phase, n, class, s.samples[class])
		}
	}
}

type clientSums struct {
	count, sumSeq  int64
	sumUser, sumGN float64
}

// verify checks, for every client, that the rows stored are exactly the
// acknowledged batches not deleted since (count, sum of seq, sums of two
// fields), that a sample of rows carries the values written, and that a
// batch whose write was cut off is stored whole or not at all.
func verify(t *testing.T, srv *server, clients []*client, when string) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	conn, err := pgx.Connect(ctx, srv.dsn("soak"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	for _, c := range clients {
		for i := range c.batches {
			b := &c.batches[i]
			if !b.uncertain {
				continue
			}
			var n int64
			if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM cpu WHERE client = '%s' AND time >= %s AND time <= %s",
				c.tag, tsLit(rowTime(c.id, b.lo)), tsLit(rowTime(c.id, b.hi-1)))).Scan(&n); err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			switch {
			case n == b.hi-b.lo && b.resolved != -1:
				b.resolved = 1
			case n == 0 && b.resolved != 1:
				b.resolved = -1
			default:
				t.Errorf("%s: client %s's %s batch of seq %d..%d, cut off (resolved %d), has %d rows stored: not all or nothing",
					when, c.tag, b.kind, b.lo, b.hi-1, b.resolved, n)
			}
		}
	}

	got := map[string]clientSums{}
	rows, err := conn.Query(ctx, `SELECT client, count(*), sum(seq)::bigint, sum(usage_user), sum(usage_guest_nice)
		FROM cpu GROUP BY client`)
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	for rows.Next() {
		var tag string
		var s clientSums
		if err := rows.Scan(&tag, &s.count, &s.sumSeq, &s.sumUser, &s.sumGN); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		got[tag] = s
	}
	if rows.Err() != nil {
		t.Fatalf("%s: %v", when, rows.Err())
	}
	var totalRows int64
	for _, c := range clients {
		var want clientSums
		for _, b := range c.batches {
			if !b.present() {
				continue
			}
			for s := b.lo; s < b.hi; s++ {
				want.count++
				want.sumSeq += s
				want.sumUser += value(c.id, s, 0)
				want.sumGN += value(c.id, s, 9)
			}
		}
		totalRows += want.count
		if g := got[c.tag]; g != want {
			t.Errorf("%s: client %s: stored count/sum(seq)/sum(usage_user)/sum(usage_guest_nice) %+v, acknowledged and not deleted %+v",
				when, c.tag, g, want)
		}
		delete(got, c.tag)
		spotCheck(t, conn, c, when)
	}
	for tag, g := range got {
		t.Errorf("%s: rows of unknown client %q: %+v", when, tag, g)
	}
	t.Logf("verify %s: %d rows of %d clients as acknowledged (%v)", when, totalRows, len(clients), time.Since(start).Round(time.Millisecond))
}

// tsLit is t as a timestamptz literal.
func tsLit(t time.Time) string { return "'" + t.Format("2006-01-02 15:04:05.000000Z07:00") + "'" }

// spotCheck reads 2 random stored rows of the client, each by its
// time (a range the scan prunes to), and compares every value with what
// was written.
func spotCheck(t *testing.T, conn *pgx.Conn, c *client, when string) {
	t.Helper()
	var live []int64
	for _, b := range c.batches {
		if b.present() {
			live = append(live, b.lo+c.rng.Int64N(b.hi-b.lo))
		}
	}
	c.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, s := range live[:min(2, len(live))] {
		// literals: the planner pushes constants into the scan, not parameters
		q := fmt.Sprintf("SELECT %s FROM cpu WHERE client = '%s' AND time >= %s AND time <= %[3]s",
			strings.Join(columns, ", "), c.tag, tsLit(rowTime(c.id, s)))
		rows, err := conn.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var got [][]any
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			got = append(got, v)
		}
		if rows.Err() != nil {
			t.Fatalf("%s: %v", when, rows.Err())
		}
		if len(got) != 1 {
			t.Errorf("%s: client %s: %d rows at the time of seq %d, want 1", when, c.tag, len(got), s)
			continue
		}
		for j, want := range c.row(s) {
			if tm, ok := got[0][j].(time.Time); ok && tm.Equal(want.(time.Time)) {
				continue
			}
			if fmt.Sprint(got[0][j]) != fmt.Sprint(want) {
				t.Errorf("%s: client %s seq %d: %s = %v, wrote %v", when, c.tag, s, columns[j], got[0][j], want)
			}
		}
	}
}

// checkServerIdle checks, with every client gone, that /health answers ok,
// no query is left running and no session but the check's own remains.
func checkServerIdle(t *testing.T, srv *server) {
	t.Helper()
	resp, err := http.Get("http://" + srv.httpAddr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/health = %d", resp.StatusCode)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.dsn("soak"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var sessions int64
	var m map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity").Scan(&sessions); err != nil {
			t.Fatal(err)
		}
		m = metrics(t, srv)
		// the count(*) above has been released before /metrics is read
		if (sessions == 1 && m["ugnos_queries_running"] == 0) || time.Now().After(deadline) {
			break
		}
	}
	if sessions != 1 || m["ugnos_queries_running"] != 0 {
		t.Errorf("idle server: %d sessions (want 1, the check's), %v queries running", sessions, m["ugnos_queries_running"])
	}
	var keys []string
	for _, k := range []string{"ugnos_points", "ugnos_memory_bytes", "ugnos_segments", "ugnos_segment_bytes",
		"ugnos_checkpoints_total", "ugnos_compactions_total", "ugnos_memory_limit_waits_total",
		"ugnos_queries_total", "ugnos_writes_total"} {
		keys = append(keys, fmt.Sprintf("%s=%g", k, m[k]))
	}
	t.Logf("metrics after the load: %s", strings.Join(keys, " "))
}

// metrics reads the unlabelled samples of /metrics.
func metrics(t *testing.T, srv *server) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + srv.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// checkSnapshot restores the last snapshot client 0 took into dir, starts a
// server on it and checks each client's row count there: every batch
// acknowledged before the snapshot began, and not deleted by a DELETE begun
// before it returned, is in it; no batch written after it returned, or
// deleted before it began, is; the batches in between may be either.
func checkSnapshot(t *testing.T, clients []*client, dir string) {
	t.Helper()
	c0 := clients[0]
	s0, s1 := c0.snapStart, c0.snapEnd
	if out, err := exec.Command(binary, "restore", "--data-dir", dir, c0.lastSnap).CombinedOutput(); err != nil {
		t.Fatalf("restore %s: %v\n%s", c0.lastSnap, err, out)
	}
	srv := startServer(t, dir, memLimit)
	defer srv.kill9(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.dsn("soak"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	got := map[string]int64{}
	rows, err := conn.Query(ctx, "SELECT client, count(*) FROM cpu GROUP BY client")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tag string
		var n int64
		if err := rows.Scan(&tag, &n); err != nil {
			t.Fatal(err)
		}
		got[tag] = n
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	var must, may int64
	for _, c := range clients {
		var lo, hi int64
		for _, b := range c.batches {
			n := b.hi - b.lo
			written := 0 // 1: in the snapshot, -1: not, 0: either
			switch {
			case b.start.After(s1):
				written = -1
			case !b.uncertain && !b.ack.IsZero() && b.ack.Before(s0):
				written = 1
			}
			deleted := -1
			switch {
			case b.delStart.IsZero() || b.delStart.After(s1):
			case b.deleted && b.delAck.Before(s0):
				deleted = 1
			default:
				deleted = 0
			}
			switch {
			case written == 1 && deleted == -1:
				lo += n
				hi += n
			case written == -1 || deleted == 1:
			default:
				hi += n
			}
		}
		must, may = must+lo, may+hi-lo
		if g := got[c.tag]; g < lo || g > hi {
			t.Errorf("snapshot: client %s has %d rows, want between %d (acknowledged before it began) and %d",
				c.tag, g, lo, hi)
		}
	}
	t.Logf("snapshot taken in %v: restored, %d rows certain and up to %d concurrent with it, as required",
		s1.Sub(s0).Round(time.Millisecond), must, may)
}
