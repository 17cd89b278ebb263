//go:build linux

package ugnos_test

// Differential tests: the same TSBS-cpu-only-shaped rows go into ugnos and
// into a throwaway PostgreSQL 15 (pgtest), and the same queries must
// give the same answers. PostgreSQL has no time_bucket; its TimescaleDB
// semantics (origin 2000-01-03 00:00:00 UTC) are date_bin's, so
// time_bucket('X', time) is sent to PostgreSQL as
// date_bin('X', time, '2000-01-03 00:00:00+00'); everything else is sent
// unchanged.
//
// Knobs: UGNOS_PGDIFF_SEED (the random queries' seed; default below),
// UGNOS_PGDIFF_N (how many random queries; default 800), UGNOS_PGDIFF_DETAIL
// (how many differences to print in full; default 15), UGNOS_PGDIFF_QUERY
// (run just these queries, separated by lines holding only ";;", and show
// both answers).

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/pgtest"
)

const (
	pgdSeed     = 20160101 // default seed of the random queries
	pgdDataSeed = 42       // seed of the data (fixed: the TSBS expectations rely on its shape)
	pgdHosts    = 10
	pgdStep     = 10 * time.Second
	pgdSpan     = 6 * time.Hour
	pgdChunk    = 2000 // rows per WriteRecord
)

var (
	pgdStart  = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	pgdTags   = []string{"hostname", "region", "datacenter", "rack", "os", "arch", "team", "service", "service_version", "service_environment"}
	pgdFields = []string{"usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait", "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice"}
)

// pgdData is the generated table: rows in (time, host) order.
type pgdData struct {
	hostTags [][]string // [host][tag]; "" is NULL (host_7 has no region)
	ts       []int64    // [row] ns since the epoch (whole µs)
	host     []int      // [row] host index
	val      [][]float64
	null     [][]bool // [field][row]
}

func pgdGenerate() *pgdData {
	r := rand.New(rand.NewPCG(pgdDataSeed, 1))
	regions := map[string][]string{
		"us-east-1":      {"us-east-1a", "us-east-1b", "us-east-1c", "us-east-1e"},
		"us-west-1":      {"us-west-1a", "us-west-1b"},
		"us-west-2":      {"us-west-2a", "us-west-2b", "us-west-2c"},
		"eu-west-1":      {"eu-west-1a", "eu-west-1b", "eu-west-1c"},
		"eu-central-1":   {"eu-central-1a", "eu-central-1b"},
		"ap-southeast-1": {"ap-southeast-1a", "ap-southeast-1b"},
		"ap-northeast-1": {"ap-northeast-1a", "ap-northeast-1c"},
		"sa-east-1":      {"sa-east-1a", "sa-east-1b", "sa-east-1c"},
	}
	regionNames := make([]string, 0, len(regions))
	for k := range regions {
		regionNames = append(regionNames, k)
	}
	sort.Strings(regionNames)
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	d := &pgdData{}
	for h := range pgdHosts {
		region := regionNames[r.IntN(len(regionNames))]
		tags := []string{
			fmt.Sprintf("host_%d", h), region, pick(regions[region]...),
			strconv.Itoa(r.IntN(100)), pick("Ubuntu16.10", "Ubuntu16.04LTS", "Ubuntu15.10"),
			pick("x64", "x86"), pick("SF", "NYC", "LON", "CHI"), strconv.Itoa(r.IntN(20)),
			strconv.Itoa(r.IntN(2)), pick("production", "staging", "test"),
		}
		if h == 7 {
			tags[1] = "" // a host without a region: NULL in both databases
		}
		d.hostTags = append(d.hostTags, tags)
	}
	n := int(pgdSpan / pgdStep)
	cur := make([][]float64, pgdHosts)
	for h := range cur {
		cur[h] = make([]float64, len(pgdFields))
		for f := range cur[h] {
			cur[h][f] = float64(r.IntN(101))
		}
	}
	d.val = make([][]float64, len(pgdFields))
	d.null = make([][]bool, len(pgdFields))
	for i := range n {
		t := pgdStart.Add(time.Duration(i) * pgdStep).UnixNano()
		for h := range pgdHosts {
			d.ts = append(d.ts, t)
			d.host = append(d.host, h)
			for f := range pgdFields {
				v := cur[h][f] + float64(r.IntN(11)-5)
				v = math.Max(0, math.Min(100, v))
				cur[h][f] = v
				// a few IEEE specials, which PostgreSQL orders and compares
				// as values: NaN above everything, NaN = NaN
				if f == 7 && r.IntN(500) == 0 {
					v = math.NaN()
				} else if f == 8 && r.IntN(1000) == 0 {
					v = math.Inf(1)
				}
				d.val[f] = append(d.val[f], v)
				d.null[f] = append(d.null[f], r.IntN(400) == 0)
			}
		}
	}
	return d
}

func (d *pgdData) loadPG(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var cols []string
	cols = append(cols, "time timestamptz NOT NULL")
	for _, tg := range pgdTags {
		cols = append(cols, tg+" text")
	}
	for _, f := range pgdFields {
		cols = append(cols, f+" double precision")
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE cpu ("+strings.Join(cols, ", ")+")"); err != nil {
		t.Fatal(err)
	}
	names := append(append([]string{"time"}, pgdTags...), pgdFields...)
	rows := make([][]any, len(d.ts))
	for i := range d.ts {
		row := make([]any, 0, len(names))
		row = append(row, time.Unix(0, d.ts[i]).UTC())
		for _, v := range d.hostTags[d.host[i]] {
			if v == "" {
				row = append(row, nil)
			} else {
				row = append(row, v)
			}
		}
		for f := range pgdFields {
			if d.null[f][i] {
				row = append(row, nil)
			} else {
				row = append(row, d.val[f][i])
			}
		}
		rows[i] = row
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"cpu"}, names, pgx.CopyFromRows(rows))
	if err != nil || int(n) != len(rows) {
		t.Fatalf("copy into PostgreSQL: %d rows, %v", n, err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE cpu"); err != nil {
		t.Fatal(err)
	}
}

// loadUgnos writes the rows in chunks of pgdChunk, the chunks in a shuffled
// order (late and out-of-order data).
func (d *pgdData) loadUgnos(t *testing.T, db *ugnos.DB) {
	t.Helper()
	fields := []arrow.Field{{Name: "time", Type: arrowstore.TimeType}}
	for _, tg := range pgdTags {
		fields = append(fields, arrow.Field{Name: tg, Type: arrow.BinaryTypes.String, Nullable: true})
	}
	for _, f := range pgdFields {
		fields = append(fields, arrow.Field{Name: f, Type: arrow.PrimitiveTypes.Float64, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	var starts []int
	for s := 0; s < len(d.ts); s += pgdChunk {
		starts = append(starts, s)
	}
	r := rand.New(rand.NewPCG(pgdDataSeed, 2))
	r.Shuffle(len(starts), func(i, j int) { starts[i], starts[j] = starts[j], starts[i] })
	mem := memory.DefaultAllocator
	for n, s := range starts {
		if n == len(starts)/2 {
			db.Flush() // half in sealed batches, half in the write buffer
		}
		e := min(s+pgdChunk, len(d.ts))
		tb := array.NewTimestampBuilder(mem, arrowstore.TimeType)
		tagB := make([]*array.StringBuilder, len(pgdTags))
		for k := range tagB {
			tagB[k] = array.NewStringBuilder(mem)
		}
		fB := make([]*array.Float64Builder, len(pgdFields))
		for k := range fB {
			fB[k] = array.NewFloat64Builder(mem)
		}
		for i := s; i < e; i++ {
			tb.Append(arrow.Timestamp(d.ts[i]))
			for k, v := range d.hostTags[d.host[i]] {
				if v == "" {
					tagB[k].AppendNull()
				} else {
					tagB[k].Append(v)
				}
			}
			for f := range pgdFields {
				if d.null[f][i] {
					fB[f].AppendNull()
				} else {
					fB[f].Append(d.val[f][i])
				}
			}
		}
		cols := []arrow.Array{tb.NewArray()}
		for _, b := range tagB {
			cols = append(cols, b.NewArray())
		}
		for _, b := range fB {
			cols = append(cols, b.NewArray())
		}
		rec := array.NewRecordBatch(schema, cols, int64(e-s))
		for _, c := range cols {
			c.Release()
		}
		err := db.WriteRecord(ctx, "t", "cpu", rec)
		rec.Release()
		if err != nil {
			t.Fatalf("WriteRecord rows %d..%d: %v", s, e, err)
		}
	}
}

// ---- results and their comparison ----

// pgdCell is one result value. kind: 0 NULL, 'i' integer, 'f' float,
// 'n' numeric (s: its text, f: its value as a double), 's' text,
// 'b' boolean, 't' timestamp (µs since the epoch).
type pgdCell struct {
	kind byte
	i    int64
	f    float64
	s    string
}

func (c pgdCell) String() string {
	switch c.kind {
	case 0:
		return "NULL"
	case 'n':
		return c.s + "::numeric"
	case 'i':
		return strconv.FormatInt(c.i, 10)
	case 'f':
		return strconv.FormatFloat(c.f, 'g', -1, 64)
	case 'b':
		return strconv.FormatBool(c.i != 0)
	case 't':
		return time.UnixMicro(c.i).UTC().Format("2006-01-02 15:04:05.999999Z07")
	case 'd':
		return time.Unix(c.i*86400, 0).UTC().Format("2006-01-02")
	case 'v':
		return "interval(" + c.s + ")"
	}
	return strconv.Quote(c.s)
}

// key renders a cell for canonical sorting: floats with 10 significant
// digits so that results equal within tolerance sort alike.
func (c pgdCell) key() string {
	switch c.kind {
	case 'f', 'n', 'i':
		f := c.f
		if c.kind == 'i' {
			f = float64(c.i)
		}
		if math.IsNaN(f) {
			return "n:NaN"
		}
		return "n:" + strconv.FormatFloat(f, 'g', 10, 64)
	}
	return string(rune(max(c.kind, '0'))) + ":" + c.String()
}

func pgdCellEqual(a, b pgdCell) bool {
	if a.kind == 'n' && b.kind == 'n' {
		return a.s == b.s // numeric: the same digits and display scale
	}
	if a.kind == 'n' && (b.kind == 'i' || b.kind == 'f') {
		if b.kind == 'i' {
			b.f = float64(b.i)
		}
		b.kind = 'f'
		a.kind = 'f'
	}
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case 0:
		return true
	case 'f':
		if math.IsNaN(a.f) || math.IsNaN(b.f) {
			return math.IsNaN(a.f) && math.IsNaN(b.f)
		}
		if a.f == b.f {
			return true
		}
		d := math.Abs(a.f - b.f)
		return d <= 1e-9*math.Max(math.Abs(a.f), math.Abs(b.f)) || d < 1e-12
	case 's', 'v':
		return a.s == b.s
	}
	return a.i == b.i
}

type pgdResult struct {
	cols []string
	rows [][]pgdCell
}

func (r *pgdResult) head(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "    columns: %s (%d rows)\n", strings.Join(r.cols, ", "), len(r.rows))
	for i, row := range r.rows {
		if i == n {
			fmt.Fprintf(&b, "    … %d more\n", len(r.rows)-n)
			break
		}
		cells := make([]string, len(row))
		for j, c := range row {
			cells[j] = c.String()
		}
		fmt.Fprintf(&b, "    %s\n", strings.Join(cells, " | "))
	}
	return b.String()
}

func pgdErr(err error) string {
	if err == nil {
		return "ok"
	}
	return fmt.Sprintf("%v (SQLSTATE %s)", err, errs.SQLState(err))
}

func pgdHead(r *pgdResult) string {
	if r == nil {
		return ""
	}
	return r.head(10)
}

func (r *pgdResult) sorted() [][]pgdCell {
	type keyed struct {
		key string
		row []pgdCell
	}
	ks := make([]keyed, len(r.rows))
	for i, row := range r.rows {
		parts := make([]string, len(row))
		for j, c := range row {
			parts[j] = c.key()
		}
		ks[i] = keyed{strings.Join(parts, "\x00"), row}
	}
	sort.SliceStable(ks, func(i, j int) bool { return ks[i].key < ks[j].key })
	rows := make([][]pgdCell, len(ks))
	for i, k := range ks {
		rows[i] = k.row
	}
	return rows
}

// pgdCompare returns "" when the results agree, else what differs.
func pgdCompare(pg, ug *pgdResult, ordered bool) string {
	if len(pg.cols) != len(ug.cols) {
		return fmt.Sprintf("column count: PostgreSQL %d, ugnos %d", len(pg.cols), len(ug.cols))
	}
	if d := pgdCompareValues(pg, ug, ordered); d != "" {
		return d
	}
	for i := range pg.cols {
		if pg.cols[i] != ug.cols[i] && !(pg.cols[i] == "date_bin" && ug.cols[i] == "time_bucket") {
			return fmt.Sprintf("column %d name: PostgreSQL %q, ugnos %q (values agree)", i+1, pg.cols[i], ug.cols[i])
		}
	}
	return ""
}

func pgdCompareValues(pg, ug *pgdResult, ordered bool) string {
	if len(pg.rows) != len(ug.rows) {
		return fmt.Sprintf("row count: PostgreSQL %d, ugnos %d", len(pg.rows), len(ug.rows))
	}
	a, b := pg.rows, ug.rows
	how := "in order"
	if !ordered {
		a, b, how = pg.sorted(), ug.sorted(), "sorted canonically"
	}
	for i := range a {
		for j := range a[i] {
			if !pgdCellEqual(a[i][j], b[i][j]) {
				return fmt.Sprintf("row %d (%s), column %q: PostgreSQL %s (%c), ugnos %s (%c)", i+1, how, pg.cols[j],
					a[i][j], max(a[i][j].kind, '0'), b[i][j], max(b[i][j].kind, '0'))
			}
		}
	}
	return ""
}

// pgdToPG translates a query for PostgreSQL: time_bucket(w, ts) becomes
// date_bin(w, ts, '2000-01-03 00:00:00+00') (TimescaleDB's default origin),
// time_bucket(w, ts, origin) date_bin(w, ts, origin), and
// time_bucket(w, ts, interval 'offset') date_bin with the origin moved by
// the offset.
func pgdToPG(q string) string {
	const fn = "time_bucket("
	var b strings.Builder
	for {
		i := strings.Index(q, fn)
		if i < 0 || (i > 0 && pgdIdent(q[i-1])) {
			if i < 0 {
				b.WriteString(q)
				return b.String()
			}
			b.WriteString(q[:i+len(fn)])
			q = q[i+len(fn):]
			continue
		}
		b.WriteString(q[:i])
		args, rest, ok := pgdSplitArgs(q[i+len(fn):])
		if !ok || len(args) < 2 || len(args) > 3 {
			b.WriteString(q[i:])
			return b.String()
		}
		for k := range args {
			args[k] = pgdToPG(strings.TrimSpace(args[k]))
		}
		origin := "'2000-01-03 00:00:00+00'"
		if len(args) == 3 {
			if strings.HasPrefix(strings.ToLower(args[2]), "interval") {
				origin = "'2000-01-03 00:00:00+00'::timestamptz + " + args[2]
			} else {
				origin = args[2]
			}
		}
		fmt.Fprintf(&b, "date_bin(%s, %s, %s)", args[0], args[1], origin)
		q = rest
	}
}

func pgdIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// pgdSplitArgs splits "a, f(b, c), 'x,y') rest" into its top-level
// arguments and what follows the closing parenthesis.
func pgdSplitArgs(s string) (args []string, rest string, ok bool) {
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\'' {
				quoted = false
			}
		case c == '\'':
			quoted = true
		case c == '(':
			depth++
		case c == ')':
			if depth == 0 {
				return append(args, s[start:i]), s[i+1:], true
			}
			depth--
		case c == ',' && depth == 0:
			args = append(args, s[start:i])
			start = i + 1
		}
	}
	return nil, "", false
}

func pgdRunPG(conn *pgx.Conn, q string) (*pgdResult, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res := &pgdResult{}
	var oids []uint32
	for _, fd := range rows.FieldDescriptions() {
		res.cols = append(res.cols, fd.Name)
		oids = append(oids, fd.DataTypeOID)
	}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		raw := rows.RawValues()
		row := make([]pgdCell, len(vals))
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case time.Time:
				if oids[i] == pgtype.DateOID {
					row[i] = pgdCell{kind: 'd', i: x.Unix() / 86400}
				} else {
					row[i] = pgdCell{kind: 't', i: x.UnixMicro()}
				}
			case pgtype.Interval:
				row[i] = pgdCell{kind: 'v', s: pgdInterval(x.Months, x.Days, x.Microseconds)}
			case int16:
				row[i] = pgdCell{kind: 'i', i: int64(x)}
			case int32:
				row[i] = pgdCell{kind: 'i', i: int64(x)}
			case int64:
				row[i] = pgdCell{kind: 'i', i: x}
			case float32:
				row[i] = pgdCell{kind: 'f', f: float64(x)}
			case float64:
				row[i] = pgdCell{kind: 'f', f: x}
			case string:
				row[i] = pgdCell{kind: 's', s: x}
			case bool:
				row[i] = pgdCell{kind: 'b', i: map[bool]int64{false: 0, true: 1}[x]}
			case pgtype.Numeric:
				f, err := x.Float64Value()
				if err != nil {
					return nil, err
				}
				text, err := pgdNumericText(x, raw[i], rows.FieldDescriptions()[i].Format)
				if err != nil {
					return nil, err
				}
				// compared as exact text with ugnos's numeric; where ugnos
				// has no numeric (extract, …) it matches an integer or a
				// double
				row[i] = pgdCell{kind: 'n', f: f.Float64, s: text}
			default:
				row[i] = pgdCell{kind: '?', s: fmt.Sprintf("%T %v", v, v)}
			}
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

// pgdNumericText is PostgreSQL's text form of a numeric, display scale
// kept: pgx keeps it, except for zero in the binary format (0.00 decodes
// as 0), whose scale is read from the wire value (ndigits, weight, sign,
// dscale, digits).
func pgdNumericText(x pgtype.Numeric, raw []byte, format int16) (string, error) {
	v, err := x.Value()
	if err != nil {
		return "", err
	}
	s := v.(string)
	if s == "0" && format == pgtype.BinaryFormatCode && len(raw) >= 8 {
		if dscale := int(int16(raw[6])<<8 | int16(raw[7])); dscale > 0 {
			s = "0." + strings.Repeat("0", dscale)
		}
	}
	return s, nil
}

func pgdRunUgnos(db *ugnos.DB, q string) (*pgdResult, error) {
	rd, err := db.SQL(ctx, "t", q)
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	res := &pgdResult{}
	types := make([]functions.Type, rd.Schema().NumFields())
	for i, f := range rd.Schema().Fields() {
		res.cols = append(res.cols, f.Name)
		if types[i], err = functions.FieldType(f); err != nil {
			return nil, err
		}
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		vecs := make([]functions.Vec, rec.NumCols())
		for c := range vecs {
			vecs[c] = functions.ArrVec(rec.Column(c), types[c])
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]pgdCell, len(vecs))
			for c, v := range vecs {
				switch x := v.Value(i).(type) {
				case nil:
				case functions.Interval:
					row[c] = pgdCell{kind: 'v', s: pgdInterval(x.Months, x.Days, x.Nanos/1000)}
				case int64:
					if types[c] == functions.TDate {
						row[c] = pgdCell{kind: 'd', i: x}
					} else if types[c] == functions.TTimestamp {
						// compared at PostgreSQL's µs resolution
						us := x / 1000
						if x%1000 < 0 {
							us--
						}
						row[c] = pgdCell{kind: 't', i: us}
					} else {
						row[c] = pgdCell{kind: 'i', i: x}
					}
				case float64:
					row[c] = pgdCell{kind: 'f', f: x}
				case string:
					row[c] = pgdCell{kind: 's', s: x}
				case bool:
					row[c] = pgdCell{kind: 'b', i: map[bool]int64{false: 0, true: 1}[x]}
				case functions.Decimal:
					row[c] = pgdCell{kind: 'n', f: x.Float64(), s: x.String()}
				default:
					row[c] = pgdCell{kind: '?', s: fmt.Sprintf("%T %v", x, x)}
				}
			}
			res.rows = append(res.rows, row)
		}
	}
	return res, rd.Err()
}

// pgdInterval renders an interval's parts (months, days, µs) exactly.
func pgdInterval(months, days int32, us int64) string {
	return fmt.Sprintf("%d mons %d days %d us", months, days, us)
}

// pgdOutcome is what one query did.
type pgdOutcome int

const (
	pgdSame pgdOutcome = iota
	pgdUnsupported
	pgdDiffer
)

// pgdCheck runs q on both and reports a difference with t.Errorf (when
// report) and returns the outcome.
func pgdCheck(t *testing.T, conn *pgx.Conn, db *ugnos.DB, q string, ordered bool, seed uint64, report bool) (pgdOutcome, string) {
	t.Helper()
	pq := pgdToPG(q)
	pg, pgErr := pgdRunPG(conn, pq)
	ug, ugErr := pgdRunUgnos(db, q)
	seedNote := ""
	if seed != 0 {
		seedNote = fmt.Sprintf(" (seed %d; UGNOS_PGDIFF_SEED=%d reproduces)", seed, seed)
	}
	var msg string
	switch {
	case ugErr != nil && errs.SQLState(ugErr) == errs.CodeFeatureNotSupported:
		msg = fmt.Sprintf("unsupported by ugnos (0A000): %v", ugErr)
		if report {
			t.Errorf("%s%s\nquery: %s", msg, seedNote, q)
		}
		return pgdUnsupported, msg
	case pgErr != nil && ugErr != nil:
		var pe *pgconn.PgError
		if errors.As(pgErr, &pe) && pe.Code == errs.SQLState(ugErr) {
			return pgdSame, ""
		}
		msg = fmt.Sprintf("both fail, differently: PostgreSQL %v; ugnos %v (SQLSTATE %s)", pgErr, ugErr, errs.SQLState(ugErr))
	case pgErr != nil:
		msg = fmt.Sprintf("PostgreSQL fails (%v), ugnos answers:\n%s", pgErr, ug.head(8))
	case ugErr != nil:
		msg = fmt.Sprintf("ugnos fails: %v (SQLSTATE %s); PostgreSQL answers:\n%s", ugErr, errs.SQLState(ugErr), pg.head(8))
	default:
		d := pgdCompare(pg, ug, ordered)
		if d == "" {
			return pgdSame, ""
		}
		pa, ua := pg, ug
		if !ordered {
			pa = &pgdResult{cols: pg.cols, rows: pg.sorted()}
			ua = &pgdResult{cols: ug.cols, rows: ug.sorted()}
		}
		msg = fmt.Sprintf("%s\n  PostgreSQL:\n%s  ugnos:\n%s", d, pa.head(8), ua.head(8))
	}
	if report {
		t.Errorf("mismatch%s\nquery: %s\nPostgreSQL got: %s\n%s", seedNote, q, pq, msg)
	}
	return pgdDiffer, msg
}

// ---- the test ----

// pgdConnect starts PostgreSQL 15 and connects to it with TimeZone UTC;
// the connection closes when the test ends.
func pgdConnect(t *testing.T) *pgx.Conn {
	t.Helper()
	srv := pgtest.Start(t)
	conn, err := pgx.Connect(ctx, srv.ConnStr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return conn
}

// pgdLoaded is pgdConnect with the generated table loaded into
// PostgreSQL and into an in-memory ugnos.
func pgdLoaded(t *testing.T) (*pgx.Conn, *ugnos.DB, *pgdData) {
	t.Helper()
	conn := pgdConnect(t)
	data := pgdGenerate()
	data.loadPG(t, conn)
	db := openMem(t)
	data.loadUgnos(t, db)
	return conn, db, data
}

func TestPGDiff(t *testing.T) {
	conn, db, data := pgdLoaded(t)

	t.Run("TSBS", func(t *testing.T) {
		for _, q := range pgdTSBS {
			t.Run(q.name, func(t *testing.T) {
				pgdCheck(t, conn, db, q.sql, q.ordered, 0, true)
			})
		}
	})
	if qs := os.Getenv("UGNOS_PGDIFF_QUERY"); qs != "" {
		// ad-hoc: run these queries (separated by lines holding only ";;"),
		// show both answers, and skip the rest
		for _, q := range strings.Split(qs, "\n;;\n") {
			pg, pgErr := pgdRunPG(conn, pgdToPG(q))
			ug, ugErr := pgdRunUgnos(db, q)
			t.Logf("query: %s\nPostgreSQL: %v\n%s\nugnos: %v\n%s", q, pgErr, pgdHead(pg), pgdErr(ugErr), pgdHead(ug))
			pgdCheck(t, conn, db, q, strings.Contains(strings.ToUpper(q), "ORDER BY"), 0, true)
		}
		return
	}
	t.Run("Errors", func(t *testing.T) {
		for i, q := range pgdErrors {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				if _, err := pgdRunPG(conn, pgdToPG(q)); err == nil {
					t.Fatalf("PostgreSQL accepts %s", q)
				}
				pgdCheck(t, conn, db, q, false, 0, true)
			})
		}
	})
	t.Run("Types", func(t *testing.T) {
		for _, q := range pgdTypes {
			t.Run(q.name, func(t *testing.T) {
				pgdCheck(t, conn, db, q.sql, q.ordered, 0, true)
			})
		}
	})
	t.Run("Numeric", func(t *testing.T) {
		for _, q := range pgdNumeric {
			t.Run(q.name, func(t *testing.T) {
				pgdCheck(t, conn, db, q.sql, q.ordered, 0, true)
			})
		}
	})
	t.Run("Regressions", func(t *testing.T) {
		for _, q := range pgdRegressions {
			t.Run(q.name, func(t *testing.T) {
				pgdCheck(t, conn, db, q.sql, q.ordered, 0, true)
			})
		}
	})
	t.Run("Random", func(t *testing.T) {
		var err error
		seed := uint64(pgdSeed)
		if s := os.Getenv("UGNOS_PGDIFF_SEED"); s != "" {
			if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
				t.Fatalf("UGNOS_PGDIFF_SEED: %v", err)
			}
		}
		n := 800
		if s := os.Getenv("UGNOS_PGDIFF_N"); s != "" {
			if n, err = strconv.Atoi(s); err != nil {
				t.Fatalf("UGNOS_PGDIFF_N: %v", err)
			}
		}
		g := newPGDGen(seed, data)
		detailed := 15
		if s := os.Getenv("UGNOS_PGDIFF_DETAIL"); s != "" {
			if detailed, err = strconv.Atoi(s); err != nil {
				t.Fatalf("UGNOS_PGDIFF_DETAIL: %v", err)
			}
		}
		var unsupported, differ int
		var shapes = map[string]int{}
		start := time.Now()
		for i := range n {
			q, ordered, shape := g.query()
			out, msg := pgdCheck(t, conn, db, q, ordered, 0, false)
			switch out {
			case pgdUnsupported:
				unsupported++
			case pgdDiffer:
				differ++
				shapes[shape+"/"+pgdKind(msg)]++
			}
			if out != pgdSame {
				if unsupported+differ <= detailed {
					t.Errorf("random query %d of seed %d (UGNOS_PGDIFF_SEED=%d reproduces), shape %s:\nquery: %s\nPostgreSQL got: %s\n%s",
						i, seed, seed, shape, q, pgdToPG(q), msg)
				} else {
					t.Logf("random query %d (%s) also differs: %s", i, shape, q)
				}
			}
		}
		t.Logf("%d random queries (seed %d) in %v: %d agree, %d differ %v, %d unsupported",
			n, seed, time.Since(start).Round(time.Millisecond), n-differ-unsupported, differ, shapes, unsupported)
		if unsupported > 0 {
			t.Errorf("%d generated queries are unsupported by ugnos; the generator must only produce supported constructs", unsupported)
		}
	})
}

// pgdKind classifies a difference for the summary.
func pgdKind(msg string) string {
	switch {
	case strings.Contains(msg, "(values agree)"):
		return "column-name"
	case strings.HasPrefix(msg, "ugnos fails"):
		return "ugnos-error"
	case strings.HasPrefix(msg, "PostgreSQL fails"):
		return "postgres-error"
	case strings.HasPrefix(msg, "both fail"):
		return "sqlstate"
	case strings.HasPrefix(msg, "row count"):
		return "row-count"
	}
	return "values"
}

type pgdQuery struct {
	name    string
	sql     string
	ordered bool // the ORDER BY is a total order over the result
}

// pgdTSBS are the 15 TSBS cpu-only queries of shared/bench/tsbs-cpu-only,
// verbatim except for hosts (host_0 … host_9 here) and time windows (inside
// the 6 hours of data from 2016-01-01 00:00 UTC).
var pgdTSBS = []pgdQuery{
	{"single-groupby-1-1-1", `SELECT time_bucket('60 seconds', time) AS minute,
        max(usage_user) as max_usage_user
        FROM cpu
        WHERE hostname IN ('host_4') AND time >= '2016-01-01 02:16:22.646325 +0000' AND time < '2016-01-01 03:16:22.646325 +0000'
        GROUP BY minute ORDER BY minute ASC;`, true},
	{"single-groupby-1-1-12", `SELECT time_bucket('60 seconds', time) AS minute,
        max(usage_user) as max_usage_user
        FROM cpu
        WHERE hostname IN ('host_4') AND time >= '2015-12-31 21:16:22.646325 +0000' AND time < '2016-01-01 09:16:22.646325 +0000'
        GROUP BY minute ORDER BY minute ASC;`, true},
	{"single-groupby-1-8-1", `SELECT time_bucket('60 seconds', time) AS minute,
        max(usage_user) as max_usage_user
        FROM cpu
        WHERE hostname IN ('host_4','host_3','host_5','host_9','host_7','host_1','host_2','host_0') AND time >= '2016-01-01 02:16:22.646325 +0000' AND time < '2016-01-01 03:16:22.646325 +0000'
        GROUP BY minute ORDER BY minute ASC;`, true},
	{"single-groupby-5-1-1", `SELECT time_bucket('60 seconds', time) AS minute,
        max(usage_user) as max_usage_user, max(usage_system) as max_usage_system, max(usage_idle) as max_usage_idle, max(usage_nice) as max_usage_nice, max(usage_iowait) as max_usage_iowait
        FROM cpu
        WHERE hostname IN ('host_4') AND time >= '2016-01-01 02:16:22.646325 +0000' AND time < '2016-01-01 03:16:22.646325 +0000'
        GROUP BY minute ORDER BY minute ASC;`, true},
	{"single-groupby-5-1-12", `SELECT time_bucket('60 seconds', time) AS minute,
        max(usage_user) as max_usage_user, max(usage_system) as max_usage_system, max(usage_idle) as max_usage_idle, max(usage_nice) as max_usage_nice, max(usage_iowait) as max_usage_iowait
        FROM cpu
        WHERE hostname IN ('host_4') AND time >= '2015-12-31 21:16:22.646325 +0000' AND time < '2016-01-01 09:16:22.646325 +0000'
        GROUP BY minute ORDER BY minute ASC;`, true},
	{"single-groupby-5-8-1", `SELECT time_bucket('60 seconds', time) AS minute,
        max(usage_user) as max_usage_user, max(usage_system) as max_usage_system, max(usage_idle) as max_usage_idle, max(usage_nice) as max_usage_nice, max(usage_iowait) as max_usage_iowait
        FROM cpu
        WHERE hostname IN ('host_4','host_3','host_5','host_9','host_7','host_1','host_2','host_0') AND time >= '2016-01-01 02:16:22.646325 +0000' AND time < '2016-01-01 03:16:22.646325 +0000'
        GROUP BY minute ORDER BY minute ASC;`, true},
	{"cpu-max-all-1", `SELECT time_bucket('3600 seconds', time) AS hour,
        max(usage_user) as max_usage_user, max(usage_system) as max_usage_system, max(usage_idle) as max_usage_idle, max(usage_nice) as max_usage_nice, max(usage_iowait) as max_usage_iowait, max(usage_irq) as max_usage_irq, max(usage_softirq) as max_usage_softirq, max(usage_steal) as max_usage_steal, max(usage_guest) as max_usage_guest, max(usage_guest_nice) as max_usage_guest_nice
        FROM cpu
        WHERE hostname IN ('host_4') AND time >= '2015-12-31 23:16:22.646325 +0000' AND time < '2016-01-01 07:16:22.646325 +0000'
        GROUP BY hour ORDER BY hour;`, true},
	{"cpu-max-all-8", `SELECT time_bucket('3600 seconds', time) AS hour,
        max(usage_user) as max_usage_user, max(usage_system) as max_usage_system, max(usage_idle) as max_usage_idle, max(usage_nice) as max_usage_nice, max(usage_iowait) as max_usage_iowait, max(usage_irq) as max_usage_irq, max(usage_softirq) as max_usage_softirq, max(usage_steal) as max_usage_steal, max(usage_guest) as max_usage_guest, max(usage_guest_nice) as max_usage_guest_nice
        FROM cpu
        WHERE hostname IN ('host_4','host_3','host_5','host_9','host_7','host_1','host_2','host_0') AND time >= '2015-12-31 23:16:22.646325 +0000' AND time < '2016-01-01 07:16:22.646325 +0000'
        GROUP BY hour ORDER BY hour;`, true},
	{"double-groupby-1", `
        WITH cpu_avg AS (
          SELECT time_bucket('3600 seconds', time) as hour, hostname,
          avg(usage_user) as mean_usage_user
          FROM cpu
          WHERE time >= '2015-12-31 21:16:22.646325 +0000' AND time < '2016-01-01 09:16:22.646325 +0000'
          GROUP BY 1, 2
        )
        SELECT hour, hostname, mean_usage_user
        FROM cpu_avg
        
        ORDER BY hour, hostname;`, true},
	{"double-groupby-5", `
        WITH cpu_avg AS (
          SELECT time_bucket('3600 seconds', time) as hour, hostname,
          avg(usage_user) as mean_usage_user, avg(usage_system) as mean_usage_system, avg(usage_idle) as mean_usage_idle, avg(usage_nice) as mean_usage_nice, avg(usage_iowait) as mean_usage_iowait
          FROM cpu
          WHERE time >= '2015-12-31 21:16:22.646325 +0000' AND time < '2016-01-01 09:16:22.646325 +0000'
          GROUP BY 1, 2
        )
        SELECT hour, hostname, mean_usage_user, mean_usage_system, mean_usage_idle, mean_usage_nice, mean_usage_iowait
        FROM cpu_avg
        
        ORDER BY hour, hostname;`, true},
	{"double-groupby-all", `
        WITH cpu_avg AS (
          SELECT time_bucket('3600 seconds', time) as hour, hostname,
          avg(usage_user) as mean_usage_user, avg(usage_system) as mean_usage_system, avg(usage_idle) as mean_usage_idle, avg(usage_nice) as mean_usage_nice, avg(usage_iowait) as mean_usage_iowait, avg(usage_irq) as mean_usage_irq, avg(usage_softirq) as mean_usage_softirq, avg(usage_steal) as mean_usage_steal, avg(usage_guest) as mean_usage_guest, avg(usage_guest_nice) as mean_usage_guest_nice
          FROM cpu
          WHERE time >= '2015-12-31 21:16:22.646325 +0000' AND time < '2016-01-01 09:16:22.646325 +0000'
          GROUP BY 1, 2
        )
        SELECT hour, hostname, mean_usage_user, mean_usage_system, mean_usage_idle, mean_usage_nice, mean_usage_iowait, mean_usage_irq, mean_usage_softirq, mean_usage_steal, mean_usage_guest, mean_usage_guest_nice
        FROM cpu_avg
        
        ORDER BY hour, hostname;`, true},
	{"high-cpu-1", `SELECT * FROM cpu WHERE usage_user > 90.0 and time >= '2016-01-01 00:54:10.138978 +0000' AND time < '2016-01-01 12:54:10.138978 +0000' AND hostname IN ('host_3');`, false},
	{"high-cpu-all", `SELECT * FROM cpu WHERE usage_user > 90.0 and time >= '2015-12-31 21:16:22.646325 +0000' AND time < '2016-01-01 09:16:22.646325 +0000' ;`, false},
	{"lastpoint", `SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC;`, true},
	{"groupby-orderby-limit", `SELECT time_bucket('60 seconds', time) AS minute, max(usage_user)
        FROM cpu
        WHERE time < '2016-01-01 05:16:22.646325 +0000'
        GROUP BY minute
        ORDER BY minute DESC
        LIMIT 5;`, true},
}

// pgdRegressions are minimal reproductions of differences the random
// queries found; each fails until ugnos is fixed.
// pgdTypes exercise interval and date values against PostgreSQL.
var pgdTypes = []pgdQuery{
	{"interval-span-per-host", `SELECT hostname, max(time) - min(time) AS span, min(time) - max(time) AS neg FROM cpu GROUP BY hostname ORDER BY hostname`, true},
	{"interval-from-literal", `SELECT time - '2016-01-01 00:00:00+00' AS since, '2016-01-01 00:00:00+00' - time AS until FROM cpu WHERE hostname = 'host_1' ORDER BY time LIMIT 5`, true},
	{"interval-arith", `SELECT interval '1 day' * 2.5 AS a, interval '1 month' * 1.5 AS b, interval '1 hour' / 7 AS c, -interval '1 day 2 hours' AS d, interval '1 day' - interval '36 hours' AS e, interval '3 mons' / 7 AS f, 0.3 * interval '1 year 1 day' AS g`, true},
	{"interval-text-forms", `SELECT interval '-1 day 2 hours' AS a, interval '1 year -2 mons 3 days' AS b, interval '100 hours' AS c, interval '-00:00:01.5' AS d, interval '1 mon -1 day' AS e, interval '0 seconds' AS f`, true},
	{"interval-compare", `SELECT interval '1 day' = interval '24 hours' AS a, interval '1 mon' > interval '29 days' AS b, interval '1 mon' = interval '30 days' AS c, interval '-1 day' < interval '0 seconds' AS d`, true},
	{"interval-scaled-by-field", `SELECT time + usage_user * interval '1 second' AS t, interval '1 minute' * usage_idle AS iv FROM cpu WHERE hostname = 'host_2' AND usage_user IS NOT NULL AND usage_idle IS NOT NULL ORDER BY time LIMIT 5`, true},
	{"interval-extract", `SELECT extract(epoch from max(time) - min(time)) AS secs, date_part('hour', max(time) - min(time)) AS h, date_part('day', interval '40 hours') AS d, date_part('epoch', interval '1 year 1 mon') AS e FROM cpu`, true},
	{"interval-min-max-order", `SELECT hostname, max(time) - min(time) AS span FROM cpu WHERE usage_user > 50 GROUP BY hostname ORDER BY span DESC, hostname LIMIT 4`, true},
	{"interval-group", `SELECT time - date_trunc('hour', time) AS off, count(*) FROM cpu GROUP BY 1 ORDER BY 1 LIMIT 5`, true},
	{"interval-justify", `SELECT justify_hours(interval '50 hours') AS a, justify_days(interval '40 days') AS b, justify_interval(interval '1 mon -1 hour') AS c, make_interval(1, 2, 3, 4, 5, 6, 7.5) AS d`, true},
	{"timestamp-plus-months", `SELECT timestamptz '2016-01-31 10:00:00+00' + interval '1 month' AS a, timestamptz '2016-03-31 00:00:00+00' - interval '1 month' AS b, timestamptz '2016-02-29 00:00:00+00' + interval '1 year' AS c`, true},
	{"date-of-time", `SELECT time::date AS d, count(*) FROM cpu GROUP BY 1 ORDER BY 1`, true},
	{"date-arith", `SELECT date '2016-01-01' + 30 AS a, date '2016-03-01' - date '2016-01-01' AS b, 7 + date '2016-02-28' AS c, date '2016-01-01' - 1 AS d, date '2016-01-01' + interval '1 hour' AS e, date '2016-01-31' + interval '1 month' AS f`, true},
	{"date-compare-timestamp", `SELECT count(*) FROM cpu WHERE time >= date '2016-01-01' AND time < date '2016-01-01' + 1`, true},
	{"date-functions", `SELECT make_date(2016, 2, 29) AS a, date_trunc('month', date '2016-02-17') AS b, extract(year from date '2016-02-17') AS c, date_part('dow', date '2016-02-17') AS d, greatest(date '2016-01-01', date '2015-01-01') AS e, coalesce(NULL, date '2016-01-01') AS f`, true},
	{"date-min-max", `SELECT hostname, min(time::date) AS a, max(time::date) AS b FROM cpu GROUP BY hostname ORDER BY hostname LIMIT 3`, true},
	{"bitwise-and-trim", `SELECT 12 & 10 AS a, 12 | 3 AS b, 12 # 10 AS c, 1 << 4 AS d, 256 >> 4 AS e, btrim('xxaxx', 'x') AS f, trim(both 'x' from 'xxbxx') AS g, ltrim('yya', 'y') AS h, rtrim('azz', 'z') AS i`, true},
	{"comma-join-three", `SELECT a.hostname, count(*) FROM cpu a, cpu b, cpu c WHERE a.hostname = b.hostname AND b.hostname = c.hostname AND a.time = b.time AND b.time = c.time AND a.hostname IN ('host_1', 'host_2') AND a.time < '2016-01-01 01:00:00+00' GROUP BY 1 ORDER BY 1`, true},
	{"series-int", `SELECT * FROM generate_series(1, 10, 3)`, true},
	{"series-int-down", `SELECT s, s * 2 AS d FROM generate_series(5, 1, -2) AS s`, true},
	{"series-empty", `SELECT count(*) FROM generate_series(5, 1)`, true},
	{"series-alias-column", `SELECT x FROM generate_series(1, 3) AS g(x) ORDER BY x DESC`, true},
	{"series-time-gapfill", `SELECT g.t, count(c.time) FROM generate_series('2016-01-01 00:00:00+00'::timestamptz, '2016-01-01 03:00:00+00'::timestamptz, interval '30 minutes') AS g(t) LEFT JOIN cpu c ON time_bucket('30 minutes', c.time) = g.t AND c.hostname = 'host_1' GROUP BY g.t ORDER BY g.t`, true},
	{"series-months", `SELECT * FROM generate_series(timestamptz '2016-01-31 00:00:00+00', timestamptz '2016-06-30 00:00:00+00', interval '1 month')`, true},
	{"date-text", `SELECT '2016-02-03'::date::text AS a, '2016-02-03 12:34:56'::date AS b, (timestamptz '2016-02-03 23:59:59+00')::date AS c, date '2016-02-03' = '2016-02-03' AS d`, true},
}

var pgdRegressions = []pgdQuery{
	// PostgreSQL names a CASE column after its ELSE result when that has a
	// name (FigureColname): here "usage_idle"; ugnos says "case".
	{"case-column-name", `SELECT CASE WHEN usage_user > 50 THEN usage_system ELSE usage_idle END FROM cpu WHERE hostname = 'host_1' ORDER BY time LIMIT 3`, true},
	// text || any non-array value is text concatenation (anynonarray):
	// "host_1=59"; ugnos: operator does not exist: text || double precision.
	{"concat-operator-double", `SELECT hostname || '=' || usage_user AS x FROM cpu WHERE hostname = 'host_1' ORDER BY time LIMIT 2`, true},
	// percentile_cont at an exact row (fraction 0) returns that row's value:
	// Infinity; ugnos interpolates Inf + 0*(Inf-Inf) = NaN.
	{"percentile-cont-infinity", `SELECT percentile_cont(1) WITHIN GROUP (ORDER BY usage_guest) AS p FROM cpu`, true},
	// An aggregate's arguments are evaluated only for rows that pass its
	// FILTER: 21600 | 100; ugnos evaluates usage_user / usage_system for
	// every row and fails with division by zero (22012).
	{"filter-before-arguments", `SELECT count(*) AS n, max(usage_user / usage_system) FILTER (WHERE usage_system <> 0) AS m FROM cpu`, true},
	// The guard idiom: PostgreSQL evaluates the quals left to right, so the
	// division never sees a zero: 11457; ugnos: division by zero (22012).
	// (PostgreSQL documents no evaluation order, but users rely on this.)
	{"and-guards-division", `SELECT count(*) FROM cpu WHERE usage_system <> 0 AND usage_user / usage_system > 1`, true},
}

// pgdNumeric are fixed queries over numeric: exact digits and display
// scales, compared as text.
var pgdNumeric = []pgdQuery{
	{"sum-avg-bigint", `SELECT hostname, sum(usage_user::bigint), avg(usage_user::bigint), avg(usage_idle::bigint) FROM cpu GROUP BY 1 ORDER BY 1`, true},
	{"sum-avg-numeric", `SELECT region, sum(usage_user::numeric / 3), avg(usage_system::numeric(6,2) * 1.5), sum(usage_steal::numeric), avg(usage_guest::numeric) FROM cpu GROUP BY 1 ORDER BY 1`, true},
	{"variance-bigint", `SELECT hostname, stddev(usage_user::bigint), variance(usage_idle::bigint), stddev_pop(usage_nice::bigint), var_samp(usage_user::numeric / 7) FROM cpu GROUP BY 1 ORDER BY 1`, true},
	{"min-max-numeric", `SELECT os, min(usage_user::numeric / 7), max(usage_irq::bigint * 1.25) FROM cpu GROUP BY 1 ORDER BY 1`, true},
	{"group-by-numeric", `SELECT round(usage_user::numeric / 10, 1) AS k, count(*), sum(usage_system::bigint) FROM cpu GROUP BY 1 ORDER BY 1`, true},
	{"group-by-equal-scales", `SELECT usage_user::bigint / 4.0 AS k, count(*) FROM cpu WHERE hostname = 'host_1' GROUP BY 1 ORDER BY 1`, true},
	{"distinct-numeric", `SELECT DISTINCT usage_nice::numeric / 8 AS x FROM cpu ORDER BY 1`, true},
	{"order-by-numeric", `SELECT time, hostname, usage_user::numeric / 3 AS x FROM cpu WHERE time < '2016-01-01 00:05:00+00' ORDER BY x DESC, time, hostname`, true},
	{"window-numeric", `SELECT time, sum(usage_user::bigint) OVER (ORDER BY time), avg(usage_user::bigint) OVER (ORDER BY time ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), max(usage_user / 3.0) OVER () FROM cpu WHERE hostname = 'host_2' AND time < '2016-01-01 00:10:00+00' ORDER BY time`, true},
	{"numeric-vs-double", `SELECT count(*) FROM cpu WHERE usage_user > 90.5 AND usage_user::numeric / 3 < 33.34 AND usage_system::bigint < 50.5`, true},
	{"float-to-numeric", `SELECT (usage_user / 3)::numeric, (usage_user * 1e-7)::numeric, (usage_user * 1e20)::numeric FROM cpu WHERE hostname = 'host_3' ORDER BY time LIMIT 5`, true},
	{"typmod-rounding", `SELECT (usage_user / 8)::numeric(8,2), round(usage_user::numeric / 8, 1), trunc(usage_user::numeric / 8, 1) FROM cpu WHERE hostname = 'host_4' ORDER BY time LIMIT 8`, true},
	{"sqrt-numeric", `SELECT usage_user, sqrt(usage_user::numeric), sqrt(usage_user::numeric / 1000), sqrt(usage_user::numeric * 1e10) FROM cpu WHERE hostname = 'host_5' ORDER BY time LIMIT 10`, true},
	{"count-case-is-bigint", `SELECT sum(CASE WHEN usage_user > 50 THEN 1 ELSE 0 END), sum(usage_user::bigint), avg(CASE WHEN usage_user > 50 THEN 1 ELSE 0 END) FROM cpu`, true},
}

// pgdErrors must fail in both, with the same SQLSTATE.
var pgdErrors = []string{
	`SELECT * FROM generate_series(1, 5, 0)`,
	`SELECT * FROM generate_series(timestamptz '2016-01-01 00:00:00+00', timestamptz '2016-01-02 00:00:00+00')`,
	`SELECT date '2016-02-30'`,
	`SELECT date 'yesterday-ish'`,
	`SELECT interval 'abc'`,
	`SELECT interval '1 day' / 0`,
	`SELECT date '2016-01-01' + date '2016-01-01'`,
	`SELECT time * 2 FROM cpu`,
	`SELECT interval '1 day' + 1`,
	`SELECT time + 1 FROM cpu`,
	`SELECT usage_user / 0 FROM cpu`,
	`SELECT nope FROM cpu`,
	`SELECT * FROM nope`,
	`SELECT hostname, usage_user FROM cpu GROUP BY hostname`,
	`SELECT count(*) FROM cpu WHERE count(*) > 1`,
	`SELECT count(*) FROM cpu WHERE time > 'garbage'`,
	`SELECT 'abc'::float8`,
	`SELECT nosuchfunc(usage_user) FROM cpu`,
	`SELECT usage_steal::bigint FROM cpu`,
	`SELECT DISTINCT hostname FROM cpu ORDER BY usage_user`,
	`SELECT DISTINCT ON (hostname) hostname FROM cpu ORDER BY region`,
	`SELECT sqrt(-1::float8)`,
	`SELECT ln(0::float8)`,
	`SELECT log(-1::float8)`,
	`SELECT power(0::float8, -1)`,
	`SELECT exp(1000::float8)`,
	`SELECT usage_user * 1e308 * 10 FROM cpu WHERE usage_user > 0`,
	`SELECT 9223372036854775807 + 1`,
	`SELECT (-9223372036854775807 - 1) / -1`,
	`SELECT abs(-9223372036854775807 - 1)`,
	`SELECT hostname FROM cpu ORDER BY 5`,
	`SELECT count(*) * 9223372036854775807 FROM cpu`,
	`SELECT 1 FROM cpu LIMIT -1`,
	`SELEC 1`,
	`SELECT hostname + 1 FROM cpu`,
	`SELECT 1 / 0.0`,
	`SELECT usage_user::numeric(3,1) * 100 FROM cpu WHERE usage_user > 99`,
	`SELECT sqrt(-usage_user::numeric) FROM cpu WHERE usage_user > 0`,
}

// ---- the random query generator ----

type pgdGen struct {
	r         *rand.Rand
	tagValues map[string][]string // distinct non-NULL values per tag
	nAlias    int
}

func newPGDGen(seed uint64, d *pgdData) *pgdGen {
	g := &pgdGen{r: rand.New(rand.NewPCG(seed, 0x9d1f)), tagValues: map[string][]string{}}
	for k, tg := range pgdTags {
		seen := map[string]bool{}
		for _, ht := range d.hostTags {
			if v := ht[k]; v != "" && !seen[v] {
				seen[v] = true
				g.tagValues[tg] = append(g.tagValues[tg], v)
			}
		}
		sort.Strings(g.tagValues[tg])
	}
	return g
}

func (g *pgdGen) n(k int) int              { return g.r.IntN(k) }
func (g *pgdGen) p(pct int) bool           { return g.r.IntN(100) < pct }
func (g *pgdGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g *pgdGen) field() string            { return pgdFields[g.n(len(pgdFields))] }

// tag picks a tag; region (the one with a NULL) more often.
func (g *pgdGen) tag() string {
	if g.p(25) {
		return "region"
	}
	return pgdTags[g.n(len(pgdTags))]
}

func (g *pgdGen) alias(prefix string) string {
	g.nAlias++
	return fmt.Sprintf("%s%d", prefix, g.nAlias)
}

func (g *pgdGen) tagValue(tag string) string {
	if g.p(5) {
		return "'nope'"
	}
	vs := g.tagValues[tag]
	return "'" + vs[g.n(len(vs))] + "'"
}

func (g *pgdGen) tagValueList(tag string) string {
	k := 1 + g.n(3)
	var vs []string
	for range k {
		vs = append(vs, g.tagValue(tag))
	}
	return strings.Join(vs, ", ")
}

func (g *pgdGen) num() string {
	v := g.n(101)
	switch g.n(4) {
	case 0:
		return strconv.Itoa(v) + ".5"
	case 1:
		return strconv.Itoa(v) + ".0"
	}
	return strconv.Itoa(v)
}

// timeLit is a timestamp literal within 10 minutes of the data, on the
// 10-second grid half of the time, in one of several spellings.
func (g *pgdGen) timeLit(from, to time.Duration) time.Time {
	d := from + time.Duration(g.r.Int64N(int64(to-from)+1))
	if g.p(50) {
		d = d.Truncate(pgdStep)
	} else {
		d = d.Truncate(time.Microsecond)
	}
	return pgdStart.Add(d)
}

func (g *pgdGen) fmtTime(t time.Time) string {
	switch g.n(5) {
	case 0:
		return "'" + t.Format("2006-01-02 15:04:05.000000") + " +0000'"
	case 1:
		return "'" + t.Format("2006-01-02T15:04:05.999999Z") + "'"
	case 2:
		return "'" + t.Format("2006-01-02 15:04:05.999999") + "+00'"
	case 3:
		return "'" + t.Format("2006-01-02 15:04:05.999999") + "'"
	}
	return "'" + t.Format("2006-01-02 15:04:05.999999") + " +0000'"
}

// timePred restricts time to a window of at most maxWidth (0: any, or none).
func (g *pgdGen) timePred(maxWidth time.Duration) string {
	lo, hi := -10*time.Minute, pgdSpan+10*time.Minute
	if maxWidth == 0 {
		switch g.n(8) {
		case 0:
			return ""
		case 6:
			return "time < now()"
		case 7:
			return "time " + g.pick(">= ", "< ") + g.pick("'2016-01-01'", "'2016-01-01 03:00'", "'2016-01-01 04:30:00'", "'2016-01-01 02:00:00'::timestamptz + interval '90 minutes'")
		case 1:
			return "time >= " + g.fmtTime(g.timeLit(lo, hi))
		case 2:
			return "time < " + g.fmtTime(g.timeLit(lo, hi))
		case 3:
			return "time <= " + g.fmtTime(g.timeLit(lo, hi))
		}
		maxWidth = pgdSpan
	}
	a := g.timeLit(lo, hi-maxWidth/4)
	b := a.Add(time.Duration(g.r.Int64N(int64(maxWidth)))).Truncate(time.Microsecond)
	if g.p(30) {
		b = a.Add(maxWidth / 2).Truncate(pgdStep)
	}
	switch g.n(7) {
	case 0:
		return fmt.Sprintf("time BETWEEN %s AND %s", g.fmtTime(a), g.fmtTime(b))
	case 5:
		return fmt.Sprintf("%s <= time AND %s > time", g.fmtTime(a), g.fmtTime(b))
	case 6:
		if g.p(20) { // reversed bounds: empty
			return fmt.Sprintf("time BETWEEN %s AND %s", g.fmtTime(b), g.fmtTime(a))
		}
		return fmt.Sprintf("time >= %s AND time < %s AND time <> %s", g.fmtTime(a), g.fmtTime(b), g.fmtTime(a.Add(pgdStep).Truncate(pgdStep)))
	case 4:
		return fmt.Sprintf("time >= %s::timestamptz - interval '%d minutes' AND time < %s", g.fmtTime(a), g.n(30), g.fmtTime(b))
	case 1:
		return fmt.Sprintf("time > %s AND time <= %s", g.fmtTime(a), g.fmtTime(b))
	}
	return fmt.Sprintf("time >= %s AND time < %s", g.fmtTime(a), g.fmtTime(b))
}

func (g *pgdGen) tagPred() string {
	tg := g.tag()
	switch g.n(14) {
	case 0:
		return tg + g.pick(" <> ", " != ") + g.tagValue(tg)
	case 10:
		return tg + g.pick(" IN (", " NOT IN (") + g.tagValue(tg) + ", NULL)"
	case 11:
		return g.tagValue(tg) + g.pick(" = ", " <> ", " < ") + tg
	case 12:
		return tg + g.pick(" = ", " <> ", " < ") + g.tag()
	case 13:
		v := g.tagValue(tg)
		switch g.n(3) {
		case 0:
			return tg + g.pick(" ~ '^", " !~ '^") + v[1:3] + "'"
		case 1:
			return tg + g.pick(" ILIKE ", " NOT ILIKE ") + strings.ToUpper(v[:len(v)-2]) + "_'"
		}
		return tg + " ~ '" + g.pick("[0-9]$", "east|west", "^host_[1-3]$", "a") + "'"
	case 7:
		return tg + g.pick(" IS DISTINCT FROM ", " IS NOT DISTINCT FROM ") + g.tagValue(tg)
	case 8:
		v := g.tagValue(tg)
		return tg + g.pick(" LIKE ", " NOT LIKE ") + v[:len(v)-1-g.n(2)] + "%'"
	case 9:
		return tg + g.pick(" < ", " >= ") + g.tagValue(tg)
	case 1:
		return tg + " IN (" + g.tagValueList(tg) + ")"
	case 2:
		return tg + " NOT IN (" + g.tagValueList(tg) + ")"
	case 3:
		return tg + g.pick(" IS NULL", " IS NOT NULL")
	}
	return tg + " = " + g.tagValue(tg)
}

func (g *pgdGen) fieldPred() string {
	f := g.field()
	switch g.n(11) {
	case 0:
		return f + g.pick(" BETWEEN ", " NOT BETWEEN ") + strconv.Itoa(g.n(50)) + " AND " + strconv.Itoa(50+g.n(51))
	case 9:
		return f + g.pick(" IN (", " NOT IN (") + strconv.Itoa(g.n(101)) + ", " + strconv.Itoa(g.n(101)) + ", " + g.num() + ")"
	case 10:
		return g.pick("usage_steal", "usage_guest") + g.pick(" = 'NaN'", " > 99", " <> 'NaN'", " < 'Infinity'", " = 'Infinity'::float8", " >= 100")
	case 1:
		return f + g.pick(" IS NULL", " IS NOT NULL")
	case 2:
		return f + g.pick(" > ", " < ", " <> ", " >= ") + g.field()
	case 3:
		return f + " + " + g.field() + g.pick(" > ", " <= ") + strconv.Itoa(g.n(200))
	case 4:
		return f + " = " + strconv.Itoa(g.n(101))
	case 5:
		return g.decExpr() + g.pick(" > ", " < ", " = ", " <> ") + g.pick(g.num(), "33.34", f)
	}
	return f + g.pick(" > ", " >= ", " < ", " <= ", " <> ") + g.num()
}

// pred is a boolean condition over tags and fields (not time).
func (g *pgdGen) pred(depth int) string {
	if depth <= 0 || g.p(45) {
		switch k := g.n(100); {
		case k < 8: // a time condition inside OR/NOT: must not be pushed down as a range
			t := g.fmtTime(g.timeLit(0, pgdSpan))
			return g.pick("time < ", "time >= ", "time = ", "time <> ") + t
		case k < 50:
			return g.tagPred()
		}
		return g.fieldPred()
	}
	switch g.n(5) {
	case 0:
		return "NOT (" + g.pred(depth-1) + ")"
	case 1, 2:
		return "(" + g.pred(depth-1) + " OR " + g.pred(depth-1) + ")"
	}
	return g.pred(depth-1) + " AND " + g.pred(depth-1)
}

// where joins a time predicate and random conditions.
func (g *pgdGen) where(maxWidth time.Duration, pPred int) string {
	var parts []string
	if tp := g.timePred(maxWidth); tp != "" {
		parts = append(parts, tp)
	}
	if g.p(pPred) {
		p := g.pred(2)
		if strings.Contains(p, " OR ") && !strings.HasPrefix(p, "(") {
			p = "(" + p + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	g.r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	return " WHERE " + strings.Join(parts, " AND ")
}

// numExpr is a double-precision expression over fields.
func (g *pgdGen) numExpr(depth int) string {
	if depth <= 0 || g.p(35) {
		return g.field()
	}
	switch g.n(18) {
	case 0:
		return g.numExpr(depth-1) + g.pick(" + ", " - ", " * ") + g.numExpr(depth-1)
	case 1:
		return "(" + g.numExpr(depth-1) + " + " + g.numExpr(depth-1) + ") / 2"
	case 2:
		return g.field() + " / " + strconv.Itoa(2+g.n(5))
	case 3:
		return g.field() + " * " + g.pick("2", "1.5", "0.25", "-1")
	case 4:
		return "-" + g.field()
	case 5:
		return g.field() + " / (" + g.field() + " + 1)"
	case 6:
		return "abs(" + g.field() + " - " + g.field() + ")"
	case 7:
		return g.pick("floor", "ceil", "round", "trunc") + "(" + g.field() + " / " + strconv.Itoa(2+g.n(4)) + ")"
	case 8:
		return "sqrt(" + g.field() + ")"
	case 9:
		return "coalesce(" + g.field() + ", " + g.pick("-1", "0", g.field()) + ")"
	case 10:
		return "CASE WHEN " + g.pred(1) + " THEN " + g.numExpr(depth-1) + " ELSE " + g.numExpr(depth-1) + " END"
	case 11:
		return "CASE WHEN " + g.fieldPred() + " THEN " + g.field() + " END"
	case 12:
		return g.field() + " + " + strconv.Itoa(g.n(10))
	case 13:
		return "power(" + g.field() + ", 2)"
	case 14:
		return g.pick("greatest", "least") + "(" + g.field() + ", " + g.pick(g.field(), g.num()) + ")"
	case 15:
		return g.pick("usage_steal", "usage_guest") + g.pick(" - ", " * ", " / ") + g.pick("(usage_steal + 1)", "usage_guest", "2")
	case 16:
		f := g.field()
		return g.pick("sign("+f+" - 50)", "cbrt("+f+")", "ln("+f+" + 1)", "log("+f+" + 1)", "exp("+f+" / 50)",
			"nullif("+f+", "+strconv.Itoa(g.n(101))+")", "mod("+f+"::bigint, 7)", "degrees("+f+")", f+" * 1e17", f+" / 1e6")
	}
	return "(" + g.numExpr(depth-1) + ")" + g.pick(" - ", " * ") + strconv.Itoa(1+g.n(3))
}

// intField picks a field without NaN or infinities (usage_steal and
// usage_guest have them), so that ::bigint never fails.
func (g *pgdGen) intField() string {
	for {
		if f := g.field(); f != "usage_steal" && f != "usage_guest" {
			return f
		}
	}
}

// decExpr is a numeric expression over fields: casts, literals with
// scales, division (select_div_scale), rounding, sqrt, typmods; NaN and
// Infinity come from usage_steal and usage_guest.
func (g *pgdGen) decExpr() string {
	f, i := g.field(), g.intField()
	switch g.n(20) {
	case 0:
		return f + "::numeric / " + g.pick("3", "7", "0.3", "2.50", "1000")
	case 1:
		return "round(" + f + "::numeric / 7, " + g.pick("0", "2", "-1", "5") + ")"
	case 2:
		return "trunc(" + f + "::numeric * 1.05, " + g.pick("1", "0") + ")"
	case 3:
		return i + "::bigint * " + g.pick("1.5", "0.25", "-2.0", "100.001")
	case 4:
		return f + "::numeric(6,2) / " + g.pick("4", "3")
	case 5:
		return "(" + f + "::numeric + 0.5) * " + g.pick("2", "1.10")
	case 6:
		return f + "::numeric % " + g.pick("7.5", "3", "0.7")
	case 7:
		return "abs(" + f + "::numeric - 50.5)"
	case 8:
		return "sqrt(" + f + "::numeric" + g.pick("", " / 3", " * 100") + ")"
	case 9:
		return g.pick("ceil", "floor") + "(" + f + "::numeric / 3)"
	case 10:
		return "sign(" + f + "::numeric - 50)"
	case 11:
		return f + "::numeric / (" + g.field() + "::numeric + 1)"
	case 12:
		return "scale(" + f + "::numeric / " + g.pick("3", "30000", "0.001") + ")"
	case 13:
		return g.pick("greatest", "least") + "(" + f + "::numeric, " + g.pick("50.5", "20", g.field()+"::numeric / 2") + ")"
	case 14:
		return "coalesce(" + f + "::numeric / 4, " + g.pick("0.0", "-1") + ")"
	case 15:
		return "CASE WHEN " + g.fieldPred() + " THEN " + f + "::numeric / 2 ELSE 1.5 END"
	case 16:
		return i + "::bigint / " + g.pick("3.0", "7", "0.5")
	case 17:
		return "(" + f + " / 3)::numeric"
	case 18:
		return f + "::numeric(5,1) * 1.25 - " + i + "::bigint"
	}
	return i + "::bigint + " + g.pick("0.5", "1e2", "2.500")
}

// scalarItem is a select-list expression of a row-level query.
func (g *pgdGen) scalarItem() string {
	switch g.n(28) {
	case 0, 1, 2:
		return g.field()
	case 3, 4:
		return g.tag()
	case 5:
		return "time"
	case 6:
		return g.pred(1)
	case 7:
		return "CASE WHEN " + g.fieldPred() + " THEN 'high' WHEN " + g.fieldPred() + " THEN 'mid' ELSE 'low' END"
	case 8:
		tg := g.tag()
		return "CASE " + tg + " WHEN " + g.tagValue(tg) + " THEN 1 WHEN " + g.tagValue(tg) + " THEN 2 ELSE 0 END"
	case 9:
		return g.pick("upper", "lower", "length") + "(" + g.tag() + ")"
	case 10:
		return "coalesce(region, 'none')"
	case 11:
		return g.field() + "::bigint"
	case 12:
		return "time_bucket('" + g.pick("60 seconds", "5 minutes", "15 minutes", "1 hour") + "', time)"
	case 13:
		return "date_trunc('" + g.pick("minute", "hour", "day") + "', time)"
	case 14:
		return "CAST(" + g.field() + " AS text)"
	case 15:
		return "time " + g.pick("+", "-") + " interval '" + g.pick("1 hour", "90 seconds", "2 days", "15 minutes") + "'"
	case 16:
		return g.tag() + " || '/' || " + g.tag()
	case 17:
		return g.pick("time::text", "usage_steal::text", "usage_guest::text", "hostname::text", "("+g.field()+" / 2)::bigint", "("+g.field()+" / 3)::text")
	case 18:
		tg, tg2 := g.tag(), g.tag()
		return g.pick("concat("+tg+", "+tg2+")", "substr("+tg+", 2, 3)", "replace("+tg+", '-', '_')", "left("+tg+", 2)",
			"right("+tg+", 3)", "split_part(datacenter, '-', 2)", "reverse("+tg+")", "initcap("+tg+")", tg+" || '=' || "+g.field())
	case 20:
		return g.decExpr()
	case 21:
		if g.p(50) {
			return "(" + g.decExpr() + ")::float8"
		}
		return g.decExpr() + g.pick(" > ", " = ", " <= ") + g.pick("50", "33.3", g.field())
	case 19:
		return g.pick("date_trunc('week', time)", "date_trunc('month', time)", "date_part('hour', time)", "date_part('minute', time)",
			"date_part('epoch', time)", "time + interval '1 month'", "time - interval '1 year 2 months 3 days'",
			"time_bucket('1 hour', time - interval '17 years')", "time_bucket('7 minutes', time - interval '30 years')",
			"time_bucket('1 day', time)", "time_bucket('7 days', time)", "time_bucket('1 hour', time, interval '15 minutes')",
			"time_bucket('1 hour', time, '2016-01-01 00:20:00+00')")
	case 22:
		// (date_trunc(…)::date rather than time::date: the latter is named
		// "time" and would capture ORDER BY time in PostgreSQL)
		return g.pick("time - '2016-01-01 00:00:00+00'", "time - date_trunc('day', time)", "date_trunc('day', time)::date",
			"date_trunc('day', time)::date + "+strconv.Itoa(g.n(40)), "date_trunc('day', time)::date - date '2015-12-25'", "(time - time_bucket('1 hour', time)) * 2",
			"extract(epoch from time - '2016-01-01 00:00:00+00')", "interval '1 minute' * "+g.field(), "justify_hours(time - '2015-12-30 00:00:00+00')")
	}
	return g.numExpr(2)
}

// aggItem is an aggregate expression.
func (g *pgdGen) aggItem() string {
	var a string
	switch g.n(22) {
	case 19:
		a = g.pick("sum", "avg", "sum", "avg", "min", "max") + "(" + g.intField() + "::bigint)"
	case 20:
		a = g.pick("sum", "avg", "min", "max") + "(" + g.decExpr() + ")"
	case 21:
		a = g.pick("stddev", "variance", "stddev_pop", "var_pop", "stddev_samp", "var_samp") + "(" + g.pick(g.intField()+"::bigint", g.field()+"::numeric / 3", g.field()+"::numeric(5,1)") + ")"
	case 0, 1:
		a = "count(*)"
	case 2:
		a = "count(" + g.pick(g.field(), "region", g.tag()) + ")"
	case 3, 4:
		a = g.pick("sum", "avg", "min", "max") + "(" + g.field() + ")"
	case 5:
		a = g.pick("sum", "avg", "min", "max") + "(" + g.numExpr(2) + ")"
	case 6:
		a = g.pick("min", "max") + "(" + g.pick("time", g.tag(), "date_trunc('day', time)::date", "time - date_trunc('hour', time)") + ")"
	case 7:
		a = g.pick("max("+g.field()+") - min("+g.field()+")", "max(time) - min(time)")
	case 8:
		a = "sum(CASE WHEN " + g.fieldPred() + " THEN 1 ELSE 0 END)"
	case 9:
		a = g.pick("count(*) * 2 + 1", "count(*) / 7", "count(*) % 7", "-count(*)", "sum(usage_steal)", "max(usage_steal)", "min(usage_guest)", "avg(usage_guest)")
	case 10:
		a = "avg(" + g.field() + ") * count(" + g.field() + ")"
	case 11:
		a = g.pick("stddev", "variance", "stddev_pop", "var_pop", "stddev_samp", "var_samp") + "(" + g.field() + ")"
	case 12:
		a = g.pick("bool_and", "bool_or") + "(" + g.fieldPred() + ")"
	case 13:
		a = "count(DISTINCT " + g.pick(g.field(), g.tag(), "floor("+g.field()+" / 10)") + ")"
	case 14:
		return g.pick("percentile_cont", "percentile_disc") + "(" + g.pick("0", "0.25", "0.5", "0.9", "1") + ") WITHIN GROUP (ORDER BY " + g.field() + ")"
	default:
		a = g.pick("sum", "avg", "min", "max", "count") + "(" + g.field() + ")"
	}
	if !strings.Contains(a, ")*") && !strings.Contains(a, ") ") && g.p(25) {
		a += " FILTER (WHERE " + g.pred(1) + ")"
	}
	return a
}

// groupKey is a grouping expression: a tag or a time bucket.
type pgdKey struct {
	expr string
	time bool
}

func (g *pgdGen) timeKey(window time.Duration) pgdKey {
	// at most ~100 buckets over the window
	var opts []string
	for _, s := range []string{"60 seconds", "5 minutes", "10 minutes", "15 minutes", "30 minutes", "1 hour", "3600 seconds", "2 hours", "90 seconds", "7 minutes"} {
		d := map[string]time.Duration{"60 seconds": time.Minute, "5 minutes": 5 * time.Minute, "10 minutes": 10 * time.Minute,
			"15 minutes": 15 * time.Minute, "30 minutes": 30 * time.Minute, "1 hour": time.Hour, "3600 seconds": time.Hour,
			"2 hours": 2 * time.Hour, "90 seconds": 90 * time.Second, "7 minutes": 7 * time.Minute}[s]
		if window/d <= 100 {
			opts = append(opts, s)
		}
	}
	if g.p(15) {
		u := "hour"
		if window <= 90*time.Minute {
			u = g.pick("minute", "hour")
		}
		return pgdKey{"date_trunc('" + u + "', time)", true}
	}
	if g.p(10) {
		return pgdKey{"time_bucket('" + g.pick(opts...) + "', time, " + g.pick("interval '5 minutes'", "interval '-7 minutes'", "'2016-01-01 00:02:30+00'", "'1999-06-01 00:00:13+00'") + ")", true}
	}
	return pgdKey{"time_bucket('" + g.pick(opts...) + "', time)", true}
}

func (g *pgdGen) tagKey() pgdKey {
	if g.p(12) { // a computed key
		f := g.field()
		return pgdKey{g.pick("floor("+f+" / 10)", "CASE WHEN "+f+" > 50 THEN 'hi' ELSE 'lo' END", f+" > 50", "upper(region)", "usage_steal",
			"round("+f+"::numeric / 10, 1)", g.intField()+"::bigint / 20.0"), false}
	}
	return pgdKey{g.pick("hostname", "hostname", "region", "region", "datacenter", "os", "arch", "team", "service_environment", "service_version", "rack"), false}
}

// item is a select-list entry.
type pgdItem struct {
	expr, alias string
}

func (it pgdItem) String() string {
	if it.alias == "" {
		return it.expr
	}
	return it.expr + " AS " + it.alias
}

// ref refers to select-list entry i (0-based) in GROUP BY / ORDER BY: by
// expression, alias or position.
func (g *pgdGen) ref(items []pgdItem, i int) string {
	switch g.n(3) {
	case 0:
		if items[i].alias != "" {
			return items[i].alias
		}
	case 1:
		return strconv.Itoa(i + 1)
	}
	return items[i].expr
}

func (g *pgdGen) dir() string {
	s := g.pick("", " ASC", " DESC")
	if g.p(20) {
		s += g.pick(" NULLS FIRST", " NULLS LAST")
	}
	return s
}

func (g *pgdGen) limit() string {
	switch g.n(4) {
	case 0:
		return fmt.Sprintf(" LIMIT %d", 1+g.n(20))
	case 1:
		return fmt.Sprintf(" LIMIT %d OFFSET %d", 1+g.n(20), g.n(10))
	case 2:
		return fmt.Sprintf(" OFFSET %d", g.n(10))
	}
	return ""
}

// query returns a random query, whether its ORDER BY is total, and its
// shape name.
func (g *pgdGen) query() (string, bool, string) {
	g.nAlias = 0
	switch k := g.n(100); {
	case k < 35:
		q, o := g.groupQuery()
		return q, o, "group"
	case k < 45:
		q, o := g.globalAggQuery()
		return q, o, "global-agg"
	case k < 65:
		q, o := g.rowQuery()
		return q, o, "rows"
	case k < 75:
		q, o := g.distinctQuery()
		return q, o, "distinct"
	case k < 85:
		q, o := g.distinctOnQuery()
		return q, o, "distinct-on"
	case k < 90:
		q, o := g.bigQuery()
		return q, o, "big"
	default:
		q, o := g.nestedQuery()
		return q, o, "nested"
	}
}

// groupQuery: SELECT keys, aggregates FROM cpu WHERE … GROUP BY keys
// [HAVING …] [ORDER BY …] [LIMIT …].
func (g *pgdGen) groupQuery() (string, bool) {
	window := pgdSpan + 20*time.Minute
	if g.p(50) {
		window = time.Duration(10+g.n(110)) * time.Minute
	}
	where := g.where(window, 50)
	var keys []pgdKey
	nk := 1 + g.n(2)
	if g.p(60) {
		keys = append(keys, g.timeKey(window))
		nk--
	}
	for range nk {
		k := g.tagKey()
		dup := false
		for _, x := range keys {
			dup = dup || x.expr == k.expr
		}
		if !dup {
			keys = append(keys, k)
		}
	}
	var items []pgdItem
	for _, k := range keys {
		a := ""
		if k.time || g.p(30) {
			a = g.alias("k")
		}
		items = append(items, pgdItem{k.expr, a})
	}
	nAgg := 1 + g.n(3)
	for range nAgg {
		a := ""
		if g.p(70) {
			a = g.alias("a")
		}
		items = append(items, pgdItem{g.aggItem(), a})
	}
	keyIdx := make([]int, len(keys))
	for i := range keyIdx {
		keyIdx[i] = i
	}
	// Sometimes put the aggregates first.
	if g.p(20) {
		items = append(items[len(keys):], items[:len(keys)]...)
		for i := range keyIdx {
			keyIdx[i] = nAgg + i
		}
	}
	var gb []string
	for _, i := range keyIdx {
		gb = append(gb, g.ref(items, i))
	}
	g.r.Shuffle(len(gb), func(i, j int) { gb[i], gb[j] = gb[j], gb[i] })
	q := "SELECT " + joinItems(items) + " FROM cpu" + where + " GROUP BY " + strings.Join(gb, ", ")
	switch g.n(10) {
	case 0, 1, 2:
		q += " HAVING " + g.aggItem() + g.pick(" > ", " >= ", " < ") + strconv.Itoa(g.n(100))
	case 3:
		q += " HAVING " + keys[0].expr + " IS NOT NULL"
	}
	ordered := false
	switch g.n(4) {
	case 0: // no ORDER BY
	case 1: // an aggregate only: not total
		q += " ORDER BY " + g.ref(items, pgdOther(items, keyIdx, g)) + g.dir()
	default: // keys (maybe after an aggregate): total
		var ob []string
		lead := ""
		if g.p(40) {
			i := pgdOther(items, keyIdx, g)
			lead = items[i].expr
			ob = append(ob, g.ref(items, i)+g.dir())
		} else if g.p(15) {
			lead = g.aggItem() // not in the select list
			ob = append(ob, lead+g.dir())
		}
		perm := g.r.Perm(len(keyIdx))
		for _, p := range perm {
			ob = append(ob, g.ref(items, keyIdx[p])+g.dir())
		}
		q += " ORDER BY " + strings.Join(ob, ", ")
		if pgdInexact(lead) {
			// Equal groups may differ in the last bits between the
			// engines and then sort apart: compare as multisets.
			return q, false
		}
		ordered = true
		q += g.limit()
	}
	return q, ordered
}

// pgdInexact reports whether an aggregate's value depends on the order of
// accumulation in floating point (so ties between groups are not ties in
// both engines). Sums of the integer-valued fields are exact.
func pgdInexact(agg string) bool {
	for _, s := range []string{"variance", "stddev", "var_", "percentile_cont"} {
		if strings.Contains(agg, s) {
			return true
		}
	}
	if strings.Contains(agg, "sum(") || strings.Contains(agg, "avg(") {
		for _, s := range []string{"/", "sqrt", "ln(", "log(", "exp(", "cbrt", "power", "degrees", "0.25", "1.5", "1e"} {
			if strings.Contains(agg, s) {
				return true
			}
		}
	}
	return false
}

// pgdOther picks a select-list index that is not a key.
func pgdOther(items []pgdItem, keyIdx []int, g *pgdGen) int {
	isKey := map[int]bool{}
	for _, k := range keyIdx {
		isKey[k] = true
	}
	var others []int
	for i := range items {
		if !isKey[i] {
			others = append(others, i)
		}
	}
	return others[g.n(len(others))]
}

func joinItems(items []pgdItem) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.String()
	}
	return strings.Join(s, ", ")
}

// globalAggQuery: aggregates without GROUP BY: one row.
func (g *pgdGen) globalAggQuery() (string, bool) {
	var items []pgdItem
	for range 1 + g.n(4) {
		a := ""
		if g.p(50) {
			a = g.alias("a")
		}
		items = append(items, pgdItem{g.aggItem(), a})
	}
	q := "SELECT " + joinItems(items) + " FROM cpu" + g.where(0, 60)
	if g.p(15) {
		q += " HAVING count(*) > " + strconv.Itoa(g.n(3000))
	}
	return q, true
}

// rowQuery: row-level SELECT over a narrow time window or with a LIMIT.
func (g *pgdGen) rowQuery() (string, bool) {
	var items []pgdItem
	if g.p(8) {
		items = []pgdItem{{"*", ""}}
	} else {
		for range 1 + g.n(5) {
			a := ""
			if g.p(40) {
				a = g.alias("c")
			}
			items = append(items, pgdItem{g.scalarItem(), a})
		}
	}
	if g.p(10) {
		// any window, or none: keep the result small with a total order
		q := "SELECT " + joinItems(items) + " FROM cpu" + g.where(0, 100)
		return q + " ORDER BY hostname" + g.dir() + ", time" + g.dir() + " LIMIT " + strconv.Itoa(1+g.n(50)), true
	}
	q := "SELECT " + joinItems(items) + " FROM cpu" + g.where(time.Duration(2+g.n(20))*time.Minute, 70)
	switch g.n(4) {
	case 0: // no ORDER BY
		return q, false
	case 1: // not total
		if items[0].expr != "*" {
			q += " ORDER BY " + g.ref(items, g.n(len(items))) + g.dir()
		}
		return q, false
	}
	// total: time and hostname, maybe after something else
	var ob []string
	if g.p(40) && items[0].expr != "*" {
		ob = append(ob, g.ref(items, g.n(len(items)))+g.dir())
	}
	tail := []string{"time" + g.dir(), "hostname" + g.dir()}
	if g.p(50) {
		tail[0], tail[1] = tail[1], tail[0]
	}
	ob = append(ob, tail...)
	return q + " ORDER BY " + strings.Join(ob, ", ") + g.limit(), true
}

// distinctQuery: SELECT DISTINCT over tags, buckets and derived values.
func (g *pgdGen) distinctQuery() (string, bool) {
	var items []pgdItem
	for range 1 + g.n(3) {
		var e string
		switch g.n(6) {
		case 0, 1, 2:
			e = g.tag()
		case 3:
			e = g.timeKey(pgdSpan).expr
		case 4:
			e = "CASE WHEN " + g.fieldPred() + " THEN 'high' ELSE 'low' END"
		default:
			e = g.fieldPred()
		}
		a := ""
		if g.p(40) {
			a = g.alias("d")
		}
		items = append(items, pgdItem{e, a})
	}
	q := "SELECT DISTINCT " + joinItems(items) + " FROM cpu" + g.where(0, 50)
	if g.p(50) {
		var ob []string
		for _, p := range g.r.Perm(len(items)) {
			ob = append(ob, g.ref(items, p)+g.dir())
		}
		return q + " ORDER BY " + strings.Join(ob, ", ") + g.limit(), true
	}
	return q, false
}

// distinctOnQuery: the last (or first) row per key, TSBS lastpoint style.
func (g *pgdGen) distinctOnQuery() (string, bool) {
	var keys []string
	keys = append(keys, g.pick("hostname", "region", "os", "datacenter", "service_environment", "team"))
	if g.p(30) {
		k := g.timeKey(pgdSpan).expr
		keys = append(keys, k)
	}
	items := []pgdItem{}
	for _, k := range keys {
		items = append(items, pgdItem{k, ""})
	}
	if g.p(20) {
		items = []pgdItem{{"*", ""}}
	} else {
		items = append(items, pgdItem{"time", ""})
		for range 1 + g.n(3) {
			a := ""
			if g.p(30) {
				a = g.alias("c")
			}
			items = append(items, pgdItem{g.scalarItem(), a})
		}
	}
	var ob []string
	for _, k := range keys {
		ob = append(ob, k+g.pick("", " ASC", " DESC"))
	}
	ob = append(ob, "time"+g.pick(" DESC", " ASC", ""), "hostname"+g.pick("", " DESC"))
	q := "SELECT DISTINCT ON (" + strings.Join(keys, ", ") + ") " + joinItems(items) + " FROM cpu" + g.where(0, 40) +
		" ORDER BY " + strings.Join(ob, ", ")
	if g.p(25) {
		q += g.limit()
	}
	return q, true
}

// bigQuery: many rows or groups cut by a total ORDER BY with LIMIT/OFFSET
// (top-N and offsets across batches).
func (g *pgdGen) bigQuery() (string, bool) {
	lim := fmt.Sprintf(" LIMIT %d OFFSET %d", 1+g.n(30), g.n(20000))
	switch g.n(4) {
	case 0:
		return "SELECT hostname, time, " + g.field() + ", " + g.field() + " FROM cpu" + g.where(0, 30) +
			" ORDER BY " + g.pick("time"+g.dir()+", hostname"+g.dir(), "hostname"+g.dir()+", time"+g.dir(), g.field()+g.dir()+", time, hostname") + lim, true
	case 1:
		lim = fmt.Sprintf(" LIMIT %d OFFSET %d", 1+g.n(30), g.n(3600))
		return "SELECT hostname, time_bucket('" + g.pick("60 seconds", "90 seconds", "2 minutes") + "', time) AS b, " + g.aggItem() + " AS a, count(*) AS n FROM cpu" + g.where(0, 30) +
			" GROUP BY 1, 2 ORDER BY " + g.pick("b"+g.dir()+", hostname"+g.dir(), "hostname"+g.dir()+", b"+g.dir(), "n DESC, b, hostname") + lim, true
	case 2:
		f1, f2 := g.field(), g.field()
		lim = fmt.Sprintf(" LIMIT %d OFFSET %d", 1+g.n(30), g.n(5000))
		return "SELECT DISTINCT " + f1 + ", " + f2 + " FROM cpu" + g.where(0, 30) + " ORDER BY " + f1 + g.dir() + ", " + f2 + g.dir() + lim, true
	}
	lim = fmt.Sprintf(" LIMIT %d OFFSET %d", 1+g.n(30), g.n(3600))
	return "SELECT DISTINCT ON (hostname, time_bucket('1 minute', time)) hostname, time_bucket('1 minute', time), time, " + g.field() + " FROM cpu" + g.where(0, 30) +
		" ORDER BY hostname" + g.pick("", " DESC") + ", time_bucket('1 minute', time)" + g.pick("", " DESC") + ", time" + g.pick("", " DESC") + lim, true
}

// nestedQuery: a CTE or FROM subquery holding an aggregate, filtered,
// re-aggregated or ordered outside.
func (g *pgdGen) nestedQuery() (string, bool) {
	tk := g.timeKey(pgdSpan)
	key := g.pick("hostname", "region", "os", "team")
	agg := g.pick("max", "min", "avg", "sum") + "(" + g.field() + ")"
	inner := "SELECT " + tk.expr + " AS b, " + key + " AS k, " + agg + " AS m, count(*) AS n FROM cpu" + g.where(0, 40) + " GROUP BY 1, 2"
	var outer string
	ordered := false
	switch g.n(3) {
	case 0:
		outer = "SELECT b, k, m, n FROM %s WHERE m " + g.pick(">", "<", ">=") + " " + g.num()
		if g.p(60) {
			outer += " ORDER BY b" + g.dir() + ", k" + g.dir() + g.limit()
			ordered = true
		}
	case 1:
		outer = "SELECT k, " + g.pick("max", "min", "avg", "sum", "count") + "(m) AS mm, max(n) AS nn FROM %s GROUP BY k"
		if g.p(60) {
			outer += " ORDER BY k" + g.dir()
			ordered = true
		}
	default:
		outer = "SELECT b, " + g.pick("max", "min", "avg", "sum") + "(m) AS mm FROM %s GROUP BY b HAVING count(*) > " + strconv.Itoa(g.n(5)) + " ORDER BY b" + g.dir()
		ordered = true
	}
	if g.p(50) {
		return "WITH s AS (" + inner + ") " + fmt.Sprintf(outer, "s"), ordered
	}
	return fmt.Sprintf(outer, "("+inner+") AS s"), ordered
}

// TestPGDiffCompare checks the comparison itself (no PostgreSQL needed).
func TestPGDiffCompare(t *testing.T) {
	i := func(v int64) pgdCell { return pgdCell{kind: 'i', i: v} }
	f := func(v float64) pgdCell { return pgdCell{kind: 'f', f: v} }
	s := func(v string) pgdCell { return pgdCell{kind: 's', s: v} }
	null := pgdCell{}
	res := func(rows ...[]pgdCell) *pgdResult { return &pgdResult{cols: []string{"a", "b"}, rows: rows} }
	row := func(c ...pgdCell) []pgdCell { return c }
	cases := []struct {
		pg, ug  *pgdResult
		ordered bool
		same    bool
	}{
		{res(row(i(1), f(0.1+0.2))), res(row(i(1), f(0.3))), true, true},
		{res(row(i(1), f(1))), res(row(i(1), f(1+1e-6))), true, false},
		{res(row(i(1), f(math.NaN()))), res(row(i(1), f(math.NaN()))), true, true},
		{res(row(i(1), null)), res(row(i(1), f(0))), true, false},
		{res(row(i(1), null)), res(row(i(1), null)), true, true},
		{res(row(i(1), s("x")), row(i(2), s("y"))), res(row(i(2), s("y")), row(i(1), s("x"))), false, true},
		{res(row(i(1), s("x")), row(i(2), s("y"))), res(row(i(2), s("y")), row(i(1), s("x"))), true, false},
		{res(row(i(1), s("x")), row(i(1), s("x"))), res(row(i(1), s("x")), row(i(1), s("y"))), false, false},
		{res(row(i(1), s("x"))), res(row(f(1), s("x"))), true, false},
		{res(row(pgdCell{kind: 'n', f: 3}, s("x"))), res(row(i(3), s("x"))), true, true},
		{res(row(i(1), s("x"))), res(), true, false},
	}
	for k, c := range cases {
		if d := pgdCompare(c.pg, c.ug, c.ordered); (d == "") != c.same {
			t.Errorf("case %d: same=%v, got difference %q", k, c.same, d)
		}
	}
	named := &pgdResult{cols: []string{"a", "x"}, rows: [][]pgdCell{{i(1), i(2)}}}
	if d := pgdCompare(res(row(i(1), i(2))), named, true); !strings.Contains(d, "name") {
		t.Errorf("column names: got %q", d)
	}
	for in, want := range map[string]string{
		"SELECT time_bucket('1 hour', time) AS b FROM cpu GROUP BY time_bucket('1 hour', time)": "SELECT date_bin('1 hour', time, '2000-01-03 00:00:00+00') AS b FROM cpu GROUP BY date_bin('1 hour', time, '2000-01-03 00:00:00+00')",
		"SELECT time_bucket('1 hour', time - interval '1 year', interval '5 minutes')":          "SELECT date_bin('1 hour', time - interval '1 year', '2000-01-03 00:00:00+00'::timestamptz + interval '5 minutes')",
		"SELECT time_bucket('1 hour', time, '2016-01-01 00:20:00+00'), my_time_bucket(1)":       "SELECT date_bin('1 hour', time, '2016-01-01 00:20:00+00'), my_time_bucket(1)",
	} {
		if got := pgdToPG(in); got != want {
			t.Errorf("pgdToPG(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}
