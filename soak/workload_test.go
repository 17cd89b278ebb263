package soak_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// The table every client writes. A row is identified by its client tag and
// its seq field; its time and every other value are functions of both, so
// the expected content is known exactly from what each client recorded.
const createTable = `CREATE TABLE cpu (time timestamptz, client text, hostname text, seq bigint,
	usage_user double precision, usage_system double precision, usage_idle double precision,
	usage_nice double precision, usage_iowait double precision, usage_irq double precision,
	usage_softirq double precision, usage_steal double precision, usage_guest double precision,
	usage_guest_nice double precision)`

var fieldNames = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
	"usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}

var columns = append([]string{"time", "client", "hostname", "seq"}, fieldNames...)

// day0 is the TSBS day the rows fall in (so the TSBS query windows hit them).
var day0 = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)

// rowTime is the time of client c's row seq: a second apart per client, the
// client in the microseconds (the wire's precision), so time is strictly
// increasing in seq and a time range selects exactly a range of seqs.
func rowTime(c int, seq int64) time.Time {
	return day0.Add(time.Duration(seq)*time.Second + time.Duration(c)*time.Microsecond)
}

func clientTag(c int) string { return fmt.Sprintf("c%02d", c) }

func hostname(c int, seq int64) string { return fmt.Sprintf("host_%d", (seq*31+int64(c))%100) }

// value is field j of client c's row seq: an integer in [0, 100], as in TSBS.
func value(c int, seq int64, j int) float64 {
	return float64((seq*7 + int64(j)*13 + int64(c)*3) % 101)
}

// batch is one write of a client: rows seq lo..hi-1, all through one call.
type batch struct {
	lo, hi    int64
	kind      string
	deleted   bool // an acknowledged DELETE removed exactly these rows
	uncertain bool // the write failed or was cut off: all or none of it may be stored
	resolved  int8 // for an uncertain batch, once a check has seen it: 1 stored, -1 not
	// when the write was sent and acknowledged, and the DELETE of the
	// batch sent and acknowledged (zero: not yet): what a snapshot holds
	start, ack, delStart, delAck time.Time
}

// present reports whether the batch's rows must be stored.
func (b batch) present() bool {
	if b.uncertain {
		return b.resolved == 1
	}
	return !b.deleted
}

// stats are one client's figures, merged at the end.
type stats struct {
	rows    map[string]int64 // acknowledged rows by write kind
	deleted int64
	ops     map[string]int
	latency map[string][]time.Duration // query latency by query type
	errs    map[string]int             // errors by class
	samples map[string]string          // first message of each class
}

func newStats() *stats {
	return &stats{rows: map[string]int64{}, ops: map[string]int{}, latency: map[string][]time.Duration{},
		errs: map[string]int{}, samples: map[string]string{}}
}

func (s *stats) merge(o *stats) {
	for k, v := range o.rows {
		s.rows[k] += v
	}
	s.deleted += o.deleted
	for k, v := range o.ops {
		s.ops[k] += v
	}
	for k, v := range o.latency {
		s.latency[k] = append(s.latency[k], v...)
	}
	for k, v := range o.errs {
		s.errs[k] += v
		if _, ok := s.samples[k]; !ok {
			s.samples[k] = o.samples[k]
		}
	}
}

// expectedErr marks error classes the test provokes itself.
func expectedErr(class string) bool {
	return strings.HasPrefix(class, "expected:")
}

// client is one of the concurrent clients: one pgx connection, the HTTP
// client, and the ledger of its batches.
type client struct {
	id       int
	tag      string
	srv      *server
	http     *http.Client
	conn     *pgx.Conn
	rng      *rand.Rand
	next     int64
	batches  []batch
	st       *stats
	snapDir  string // where snapshots go (client 0 only)
	lastSnap string // the latest snapshot taken (the earlier ones are removed)
	// when the statement that took lastSnap was sent and answered
	snapStart, snapEnd time.Time
	killed             *atomic.Bool  // set just before the server is killed on purpose
	admin              time.Duration // client 0 and 1: interval of admin operations (0: none)
	lastAdm            time.Time
}

func (c *client) connect(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(c.srv.dsn("soak"))
	if err != nil {
		return err
	}
	// A cancelled context sends a CancelRequest (the server answers 57014)
	// before pgx falls back to cutting the connection.
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 5 * time.Second}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	c.conn = conn
	return nil
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close(context.Background())
		c.conn = nil
	}
}

// fail records an error of op; expected marks the ones the test provoked.
func (c *client) fail(op string, err error, expected bool) {
	class := op + ":" + errClass(err)
	if expected {
		class = "expected:" + class
	}
	c.st.errs[class]++
	if _, ok := c.st.samples[class]; !ok {
		c.st.samples[class] = err.Error()
	}
}

func errClass(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return pe.Code
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	var he httpError
	if errors.As(err, &he) {
		return fmt.Sprintf("http%d", he.code)
	}
	return "io"
}

type httpError struct {
	code int
	body string
}

func (e httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.code, e.body) }

// reconnect replaces a connection an error left closed.
func (c *client) reconnect(ctx context.Context) {
	if c.conn != nil && !c.conn.IsClosed() {
		return
	}
	c.close()
	for i := 0; i < 5; i++ {
		if err := c.connect(ctx); err == nil {
			return
		} else if c.killed.Load() {
			return
		} else {
			c.fail("connect", err, false)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run does operations until the deadline, chosen at random by weight.
func (c *client) run(ctx context.Context, until time.Time, writesOnly bool) {
	for time.Now().Before(until) && ctx.Err() == nil && !c.killed.Load() {
		if c.conn == nil || c.conn.IsClosed() {
			c.reconnect(ctx)
			if c.conn == nil {
				if c.killed.Load() {
					return
				}
				continue
			}
		}
		if c.admin > 0 && !writesOnly && time.Since(c.lastAdm) >= c.admin {
			c.lastAdm = time.Now()
			c.adminOp(ctx)
			continue
		}
		n := c.rng.IntN(100)
		switch {
		case n < 20:
			c.write(ctx, "copy", 200+c.rng.Int64N(600))
		case n < 40:
			c.write(ctx, "insert", 10+c.rng.Int64N(90))
		case n < 60:
			c.write(ctx, "lineproto", 100+c.rng.Int64N(900))
		case writesOnly:
			c.write(ctx, "copy", 100+c.rng.Int64N(300))
		case n < 85:
			c.query(ctx)
		case n < 92:
			c.delete(ctx)
		case n < 97:
			c.ownCount(ctx)
		default:
			c.cancelQuery(ctx)
		}
	}
}

func (c *client) row(seq int64) []any {
	r := make([]any, 0, len(columns))
	r = append(r, rowTime(c.id, seq), c.tag, hostname(c.id, seq), seq)
	for j := range fieldNames {
		r = append(r, value(c.id, seq, j))
	}
	return r
}

// write writes n new rows through kind and records the batch: acknowledged,
// or uncertain when the call failed.
func (c *client) write(ctx context.Context, kind string, n int64) {
	b := batch{lo: c.next, hi: c.next + n, kind: kind, start: time.Now()}
	c.next += n
	c.st.ops[kind]++
	var err error
	switch kind {
	case "copy":
		var got int64
		got, err = c.conn.CopyFrom(ctx, pgx.Identifier{"cpu"}, columns, pgx.CopyFromSlice(int(n), func(i int) ([]any, error) {
			return c.row(b.lo + int64(i)), nil
		}))
		if err == nil && got != n {
			err = fmt.Errorf("COPY stored %d rows, sent %d", got, n)
		}
	case "insert":
		var sb strings.Builder
		sb.WriteString("INSERT INTO cpu (" + strings.Join(columns, ", ") + ") VALUES ")
		args := make([]any, 0, int(n)*len(columns))
		for s := b.lo; s < b.hi; s++ {
			if s > b.lo {
				sb.WriteString(", ")
			}
			sb.WriteByte('(')
			for j := range columns {
				if j > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "$%d", len(args)+j+1)
			}
			sb.WriteByte(')')
			args = append(args, c.row(s)...)
		}
		var tag pgconn.CommandTag
		tag, err = c.conn.Exec(ctx, sb.String(), args...)
		if err == nil && tag.RowsAffected() != n {
			err = fmt.Errorf("INSERT tag %q for %d rows", tag, n)
		}
	case "lineproto":
		err = c.lineProto(ctx, b)
	}
	if err != nil {
		b.uncertain = true
		c.fail(kind, err, c.killed.Load())
	} else {
		b.ack = time.Now()
		c.st.rows[kind] += n
	}
	c.batches = append(c.batches, b)
}

func (c *client) lineProto(ctx context.Context, b batch) error {
	var buf bytes.Buffer
	for s := b.lo; s < b.hi; s++ {
		fmt.Fprintf(&buf, "cpu,client=%s,hostname=%s seq=%di", c.tag, hostname(c.id, s), s)
		for j, f := range fieldNames {
			fmt.Fprintf(&buf, ",%s=%g", f, value(c.id, s, j))
		}
		fmt.Fprintf(&buf, " %d\n", rowTime(c.id, s).UnixNano())
	}
	path := "/write?db=soak&precision=ns"
	if b.lo%2 == 1 {
		path = "/api/v2/write?bucket=soak&org=x&precision=ns"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+c.srv.httpAddr+path, &buf)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return httpError{resp.StatusCode, string(body)}
	}
	return nil
}

// live is the number of rows of acknowledged, undeleted batches.
func (c *client) live() (n int64) {
	for _, b := range c.batches {
		if b.present() {
			n += b.hi - b.lo
		}
	}
	return n
}

// delete removes one of the client's own acknowledged batches by its time
// range and checks that the count deleted is exactly the batch's.
func (c *client) delete(ctx context.Context) {
	var cand []int
	for i, b := range c.batches {
		if b.present() {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return
	}
	c.st.ops["delete"]++
	b := &c.batches[cand[c.rng.IntN(len(cand))]]
	b.delStart = time.Now()
	tag, err := c.conn.Exec(ctx, "DELETE FROM cpu WHERE client = $1 AND time >= $2 AND time <= $3",
		c.tag, rowTime(c.id, b.lo), rowTime(c.id, b.hi-1))
	if err != nil {
		// a DELETE that failed may or may not have happened
		b.uncertain, b.resolved = true, 0
		c.fail("delete", err, false)
		return
	}
	b.deleted, b.delAck = true, time.Now()
	c.st.deleted += b.hi - b.lo
	if tag.RowsAffected() != b.hi-b.lo {
		c.fail("delete", fmt.Errorf("DELETE of seq %d..%d (%s) removed %d rows, want %d",
			b.lo, b.hi-1, b.kind, tag.RowsAffected(), b.hi-b.lo), false)
	}
}

// ownCount checks read-your-writes: the rows of this client, which only it
// writes and deletes, are exactly those it recorded.
func (c *client) ownCount(ctx context.Context) {
	for _, b := range c.batches {
		if b.uncertain && b.resolved == 0 {
			return
		}
	}
	c.st.ops["own-count"]++
	var n int64
	if err := c.conn.QueryRow(ctx, "SELECT count(*) FROM cpu WHERE client = $1", c.tag).Scan(&n); err != nil {
		c.fail("own-count", err, false)
		return
	}
	if want := c.live(); n != want {
		c.fail("own-count", fmt.Errorf("client %s sees %d of its rows, acknowledged and not deleted: %d", c.tag, n, want), false)
	}
}

// query runs one TSBS cpu-only query of a random type and reads it all.
func (c *client) query(ctx context.Context) {
	name, q := tsbsQuery(c.rng)
	c.st.ops["query"]++
	start := time.Now()
	if err := c.readAll(ctx, q); err != nil {
		c.fail("query "+name, err, false)
		return
	}
	c.st.latency[name] = append(c.st.latency[name], time.Since(start))
}

func (c *client) readAll(ctx context.Context, q string, args ...any) error {
	rows, err := c.conn.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

// cancelQuery runs a heavy query the test cuts short, by statement_timeout
// or by cancelling its context (a CancelRequest); both errors are expected,
// and so is a query that finished first.
func (c *client) cancelQuery(ctx context.Context) {
	c.st.ops["cancel"]++
	q := tsbsQueries[8].sql(c.rng) // lastpoint: reads everything
	if c.rng.IntN(2) == 0 {
		if _, err := c.conn.Exec(ctx, "SET statement_timeout = '2ms'"); err != nil {
			c.fail("cancel", err, false)
			return
		}
		err := c.readAll(ctx, q)
		c.classifyCancel(err)
		if _, err := c.conn.Exec(ctx, "RESET statement_timeout"); err != nil {
			c.fail("cancel", err, false)
		}
		return
	}
	qctx, cancel := context.WithTimeout(ctx, time.Duration(1+c.rng.IntN(20))*time.Millisecond)
	err := c.readAll(qctx, q)
	cancel()
	c.classifyCancel(err)
}

func (c *client) classifyCancel(err error) {
	var pe *pgconn.PgError
	switch {
	case err == nil:
	case errors.As(err, &pe) && pe.Code == "57014", errors.Is(err, context.DeadlineExceeded):
		c.fail("cancel", err, true)
	default:
		c.fail("cancel", err, false)
	}
}

// adminOp: client 0 takes snapshots, client 1 alternates CHECKPOINT and
// ugnos_compact().
func (c *client) adminOp(ctx context.Context) {
	var q, op, path string
	switch c.id {
	case 0:
		op = "snapshot"
		path = fmt.Sprintf("%s/snap-%d", c.snapDir, c.st.ops["snapshot"])
		q = "SELECT ugnos_snapshot('" + path + "')"
	default:
		if c.st.ops["checkpoint"] <= c.st.ops["compact"] {
			op, q = "checkpoint", "CHECKPOINT"
		} else {
			op, q = "compact", "SELECT ugnos_compact()"
		}
	}
	c.st.ops[op]++
	start := time.Now()
	if err := c.readAll(ctx, q); err != nil {
		c.fail(op, err, false)
		return
	}
	c.st.latency[op] = append(c.st.latency[op], time.Since(start))
	if op == "snapshot" { // keep one: a long run would fill the disk
		if c.lastSnap != "" {
			os.RemoveAll(c.lastSnap)
		}
		c.lastSnap, c.snapStart, c.snapEnd = path, start, time.Now()
	}
}

// runClients runs the clients concurrently until the deadline.
func runClients(ctx context.Context, clients []*client, until time.Time, writesOnly bool) {
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() { c.run(ctx, until, writesOnly) })
	}
	wg.Wait()
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p * float64(len(s)-1))
	return s[i]
}
