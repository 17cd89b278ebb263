package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
)

// ugnos import: CSV, InfluxDB line protocol and Parquet files into a
// running server (CSV and Parquet over the PostgreSQL protocol with binary
// COPY, line protocol by POST /write) or into a data directory no server
// holds (ugnos.DB.WriteRecord; line protocol through the HTTP API's own
// /write handler in process, so that there is one line-protocol path).

const importUsage = `Usage:

	ugnos import [flags] FILE...

Imports CSV (.csv), InfluxDB line protocol (.lp, .txt) and Parquet
(.parquet) files; --format overrides what the extension says.

Where the rows go:
  (default)        a running server: CSV and Parquet through the PostgreSQL
                   protocol at --pg-addr (COPY), line protocol through HTTP
                   at --http-addr (POST /write)
  --data-dir DIR   a data directory directly (no server may run on it)

CSV: the header row names the columns; --time-column (default "time") is
the timestamp (RFC 3339, PostgreSQL's text form, a date, or an integer in
--precision units). Other columns' types are inferred from the first 1000
rows: integers are bigint fields, other numbers double precision, true/false
boolean, and anything else text tags. --types col=KIND,... sets them (KIND:
tag, text (a text field), float, int, bool). An empty cell is NULL.
Parquet: strings are tags unless --types says text; numbers and booleans
are fields. The table (--table, default the file's name without its
extension) is created, and missing columns added, as needed.

A file is imported whole or not at all: a bad row stops the import with
its line number and nothing of that file is stored (through a server,
one COPY per file; line-protocol files over 32 MiB are sent in pieces,
and pieces before a bad line stay stored).

Flags (a flag beats its environment variable, which beats the default):
`

// importConfig is ugnos import's configuration after flags and
// environment variables.
type importConfig struct {
	format, db, table, timeColumn, types, precision, batch, interval string
	dataDir, pgAddr, httpAddr, user, password, sslmode               string

	batchRows int
	every     time.Duration
	kinds     map[string]colKind // from --types
}

func (c *importConfig) settings() []serveSetting {
	return []serveSetting{
		{"format", "", "auto", "file format: auto (by extension), csv, lp or parquet", &c.format},
		{"db", "UGNOS_DB", "postgres", "database (tenant) to import into", &c.db},
		{"table", "", "", "table for CSV and Parquet (default: the file name without extension)", &c.table},
		{"time-column", "", "time", "CSV/Parquet column that holds the timestamp", &c.timeColumn},
		{"types", "", "", "column kinds, col=tag|text|float|int|bool,... (CSV, Parquet)", &c.types},
		{"precision", "", "ns", "unit of integer timestamps: ns, us, ms or s (also line protocol's precision)", &c.precision},
		{"batch", "", "65536", "rows per batch", &c.batch},
		{"progress-interval", "", "2s", "how often progress is logged when stderr is not a terminal", &c.interval},
		{"data-dir", "", "", "import into this data directory (no server may run on it)", &c.dataDir},
		{"pg-addr", "UGNOS_PG_ADDR", "127.0.0.1:5432", "server's PostgreSQL protocol address (CSV, Parquet)", &c.pgAddr},
		{"http-addr", "UGNOS_HTTP_ADDR", "127.0.0.1:8086", "server's HTTP address (line protocol)", &c.httpAddr},
		{"user", "UGNOS_USER", "ugnos", "user to connect as", &c.user},
		{"password", "UGNOS_PASSWORD", "", "password of --user, if the server asks for one", &c.password},
		{"sslmode", "UGNOS_SSLMODE", "prefer", "TLS to the server: disable, prefer, require, verify-ca or verify-full", &c.sslmode},
	}
}

func (c *importConfig) validate() error {
	switch c.format {
	case "auto", "csv", "lp", "parquet":
	default:
		return fmt.Errorf("--format %q: want auto, csv, lp or parquet", c.format)
	}
	if _, err := precisionUnit(c.precision); err != nil {
		return err
	}
	if _, err := fmt.Sscan(c.batch, &c.batchRows); err != nil || c.batchRows < 1 {
		return fmt.Errorf("--batch %q: want a positive number of rows", c.batch)
	}
	d, err := time.ParseDuration(c.interval)
	if err != nil || d <= 0 {
		return fmt.Errorf("--progress-interval %q: want a positive duration such as 2s", c.interval)
	}
	c.every = d
	c.kinds = map[string]colKind{}
	for _, kv := range strings.Split(c.types, ",") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		name, kind, ok := strings.Cut(kv, "=")
		k, known := kindNames[strings.ToLower(strings.TrimSpace(kind))]
		if !ok || !known || strings.TrimSpace(name) == "" {
			return fmt.Errorf("--types %q: want col=tag|text|float|int|bool, comma-separated", kv)
		}
		c.kinds[strings.TrimSpace(name)] = k
	}
	if c.db == "" {
		return errors.New("--db must not be empty")
	}
	return nil
}

func importCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var c importConfig
	files, given, err := parseCommand("import", importUsage, c.settings(), args, getenv, stderr)
	if err != nil {
		return usageExit("import", err, stderr)
	}
	if len(files) == 0 {
		return usageExit("import", errors.New("no FILE to import"), stderr)
	}
	if given["data-dir"] && (given["pg-addr"] || given["http-addr"]) {
		return usageExit("import", errors.New("--data-dir excludes --pg-addr and --http-addr"), stderr)
	}
	if err := c.validate(); err != nil {
		return usageExit("import", err, stderr)
	}
	formats := make([]string, len(files))
	for i, f := range files {
		if formats[i], err = fileFormat(f, c.format); err != nil {
			return usageExit("import", err, stderr)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	imp := &importer{cfg: &c, stderr: stderr, log: slog.New(slog.NewTextHandler(stderr, nil))}
	if given["data-dir"] {
		if imp.db, err = openOffline(c.dataDir, "use --pg-addr or --http-addr to import through the server", stderr); err != nil {
			fmt.Fprintf(stderr, "ugnos import: %v\n", err)
			return 1
		}
		defer imp.db.Close()
	}
	defer imp.close()
	for i, f := range files {
		if err := imp.importFile(ctx, f, formats[i]); err != nil {
			fmt.Fprintf(stderr, "ugnos import: %s: %v\n", f, err)
			return 1
		}
	}
	return 0
}

// fileFormat picks a file's format: the --format flag, else its extension.
func fileFormat(path, flagFormat string) (string, error) {
	if flagFormat != "auto" {
		return flagFormat, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return "csv", nil
	case ".lp", ".txt", ".line":
		return "lp", nil
	case ".parquet", ".pq":
		return "parquet", nil
	}
	return "", fmt.Errorf("%s: cannot tell the format from the extension; use --format csv, lp or parquet", path)
}

// importer imports files one after another into one destination.
type importer struct {
	cfg    *importConfig
	stderr io.Writer
	log    *slog.Logger
	db     *ugnos.DB // --data-dir
	conn   *pgx.Conn // --pg-addr, connected on first use
}

func (imp *importer) close() {
	if imp.conn != nil {
		imp.conn.Close(context.Background())
	}
}

func (imp *importer) importFile(ctx context.Context, path, format string) error {
	if format == "lp" {
		return imp.importLineProtocol(ctx, path)
	}
	table := imp.cfg.table
	if table == "" {
		table = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	open := func() (recordSource, error) {
		if format == "parquet" {
			return openParquetSource(ctx, path, imp.cfg)
		}
		return openCSVSource(path, imp.cfg)
	}
	prog := newProgress(path, imp.stderr, imp.log, imp.cfg.every)
	var rows int64
	var err error
	if imp.db != nil {
		rows, err = importEmbedded(ctx, imp.db, imp.cfg.db, table, open, prog)
	} else {
		if err = imp.connect(ctx); err == nil {
			rows, err = importPG(ctx, imp.conn, table, open, prog)
		}
	}
	prog.finish(rows, err)
	return err
}

// connect opens the connection to the server's database, creating the
// database when it does not exist yet.
func (imp *importer) connect(ctx context.Context) error {
	if imp.conn != nil {
		return nil
	}
	c := imp.cfg
	conn, err := pgConnect(ctx, c.pgAddr, c.user, c.password, c.sslmode, c.db, "ugnos import")
	if errs.SQLState(pgErrNormalize(err)) == "3D000" {
		admin, aerr := pgConnect(ctx, c.pgAddr, c.user, c.password, c.sslmode, "postgres", "ugnos import")
		if aerr != nil {
			return aerr
		}
		_, aerr = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{c.db}.Sanitize())
		admin.Close(context.Background())
		if aerr != nil {
			return fmt.Errorf("create database %s: %w", c.db, aerr)
		}
		conn, err = pgConnect(ctx, c.pgAddr, c.user, c.password, c.sslmode, c.db, "ugnos import")
	}
	if err != nil {
		return err
	}
	imp.conn = conn
	return nil
}

// pgErrNormalize turns a pgx server error into something errs.SQLState
// reads.
func pgErrNormalize(err error) error {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		return errs.New(errs.ErrInternal, st.SQLState(), "%v", err)
	}
	return err
}

// pgConnect connects to a server over the PostgreSQL protocol.
func pgConnect(ctx context.Context, addr, user, password, sslmode, database, app string) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", Host: addr, Path: "/" + database, RawQuery: url.Values{"sslmode": {sslmode}, "application_name": {app}}.Encode()}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("connection settings: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the server at %s: %w", addr, err)
	}
	return conn, nil
}

// recordSource reads a file as Arrow records with a "time" column
// (timestamp[ns, UTC]), tag columns (utf8) and field columns (text fields
// carry the metadata ugnos.kind=field).
type recordSource interface {
	Schema() *arrow.Schema
	// Next returns the next record, or io.EOF. The caller releases it.
	Next() (arrow.RecordBatch, error)
	// Progress returns how far the reading is, in bytes of the file, and
	// the file's size.
	Progress() (done, total int64)
	Close() error
}

// embeddedBufferBytes bounds the Arrow data an import into a data
// directory holds back so that a bad row stores nothing; a larger file is
// validated in a first pass, then read again and written.
const embeddedBufferBytes = 256 << 20

// importEmbedded writes a file's records with WriteRecord, all of them or
// none.
func importEmbedded(ctx context.Context, db *ugnos.DB, tenant, table string, open func() (recordSource, error), prog *progress) (int64, error) {
	src, err := open()
	if err != nil {
		return 0, err
	}
	var held []arrow.RecordBatch
	release := func() {
		for _, r := range held {
			r.Release()
		}
		held = nil
	}
	defer release()
	var heldBytes, rows int64
	overflow := false
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			src.Close()
			return 0, err
		}
		rows += rec.NumRows()
		if !overflow {
			held = append(held, rec)
			heldBytes += recordBytes(rec)
			if heldBytes > embeddedBufferBytes {
				overflow = true
				release()
				prog.note("file too large to hold back; validated first, then written in a second pass")
			}
		} else {
			rec.Release()
		}
		if !overflow {
			prog.update(rows, src)
		}
	}
	src.Close()
	write := func(rec arrow.RecordBatch) error {
		rec = conformText(db, tenant, table, rec)
		defer rec.Release()
		return db.WriteRecord(ctx, tenant, table, rec)
	}
	if !overflow {
		for _, rec := range held {
			if err := write(rec); err != nil {
				return 0, err
			}
		}
		return rows, nil
	}
	// Second pass: the file is valid; write it as it is read.
	if src, err = open(); err != nil {
		return 0, err
	}
	defer src.Close()
	rows = 0
	for {
		rec, err := src.Next()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, err
		}
		err = write(rec)
		rows += rec.NumRows()
		rec.Release()
		if err != nil {
			return rows, err
		}
		prog.update(rows, src)
	}
}

// conformText marks a text column of rec as a field or a tag as the
// existing table has it, so that a file's text column imports into a
// varchar field as well as into a tag. It returns a new reference.
func conformText(db *ugnos.DB, tenant, table string, rec arrow.RecordBatch) arrow.RecordBatch {
	cols, err := db.Columns(tenant, table)
	if err != nil {
		rec.Retain()
		return rec
	}
	field := map[string]bool{}
	for _, c := range cols {
		field[c.Name] = c.Kind == arrowstore.KindField
	}
	fields := rec.Schema().Fields()
	changed := false
	for i, f := range fields {
		isText := f.Type.ID() == arrow.STRING || f.Type.ID() == arrow.LARGE_STRING || f.Type.ID() == arrow.DICTIONARY
		want, ok := field[f.Name]
		if !isText || !ok {
			continue
		}
		if k, _ := f.Metadata.GetValue("ugnos.kind"); (k == "field") != want {
			if want {
				fields[i].Metadata = fieldMeta
			} else {
				fields[i].Metadata = arrow.Metadata{}
			}
			changed = true
		}
	}
	if !changed {
		rec.Retain()
		return rec
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), rec.Columns(), rec.NumRows())
}

func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

// importPG sends a file through one binary COPY (so the server stores all
// of it or, when a row is bad, none), creating the table and adding
// missing columns first.
func importPG(ctx context.Context, conn *pgx.Conn, table string, open func() (recordSource, error), prog *progress) (int64, error) {
	src, err := open()
	if err != nil {
		return 0, err
	}
	defer src.Close()
	// Read the first batch before creating anything, so that a file that
	// is bad from the start leaves no empty table behind.
	first, err := src.Next()
	if err != nil && err != io.EOF {
		return 0, err
	}
	cs := &copySource{src: src, prog: prog, rec: first, row: -1}
	defer func() {
		if cs.rec != nil {
			cs.rec.Release()
		}
	}()
	if first == nil {
		cs.row = 0 // nothing to send
	}
	existing := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1", table)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, err
		}
		existing[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	ident := pgx.Identifier{table}.Sanitize()
	var defs, adds []string
	var names []string
	for _, f := range src.Schema().Fields() {
		typ, err := pgColumnType(f)
		if err != nil {
			return 0, err
		}
		defs = append(defs, pgx.Identifier{f.Name}.Sanitize()+" "+typ)
		names = append(names, f.Name)
		if len(existing) > 0 && !existing[f.Name] {
			adds = append(adds, "ADD COLUMN IF NOT EXISTS "+pgx.Identifier{f.Name}.Sanitize()+" "+typ)
		}
	}
	if first == nil {
		return 0, nil // an empty file: nothing to create or store
	}
	// An existing table's own kinds win: COPY converts text into a tag or
	// a varchar field as the table says.
	if len(existing) == 0 {
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+ident+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return 0, fmt.Errorf("create table %s: %w", table, err)
		}
	}
	if len(adds) > 0 {
		if _, err := conn.Exec(ctx, "ALTER TABLE "+ident+" "+strings.Join(adds, ", ")); err != nil {
			return 0, fmt.Errorf("add columns to %s: %w", table, err)
		}
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{table}, names, cs)
	if cs.err != nil {
		return 0, cs.err // the file's error, not pgx's wrapping of it
	}
	return n, err
}

// pgColumnType is the CREATE TABLE type of a record column.
func pgColumnType(f arrow.Field) (string, error) {
	if f.Name == "time" {
		return "timestamptz", nil
	}
	switch f.Type.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.DICTIONARY:
		if k, _ := f.Metadata.GetValue("ugnos.kind"); k == "field" {
			return "varchar", nil
		}
		return "text", nil
	case arrow.FLOAT64, arrow.FLOAT32, arrow.FLOAT16:
		return "double precision", nil
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return "bigint", nil
	case arrow.BOOL:
		return "boolean", nil
	}
	return "", fmt.Errorf("column %q: type %s is not supported", f.Name, f.Type)
}

// copySource feeds a record source to pgx's CopyFrom row by row.
type copySource struct {
	src  recordSource
	prog *progress
	rec  arrow.RecordBatch
	row  int
	rows int64
	vals []any
	err  error
}

func (s *copySource) Next() bool {
	for s.rec == nil || s.row+1 >= int(s.rec.NumRows()) {
		if s.rec != nil {
			s.rec.Release()
			s.rec = nil
		}
		rec, err := s.src.Next()
		if err != nil {
			if err != io.EOF {
				s.err = err
			}
			return false
		}
		s.rec, s.row = rec, -1
		s.prog.update(s.rows, s.src)
	}
	s.row++
	s.rows++
	return true
}

func (s *copySource) Values() ([]any, error) {
	s.vals = s.vals[:0]
	for _, c := range s.rec.Columns() {
		s.vals = append(s.vals, valueAt(c, s.row))
	}
	return s.vals, nil
}

func (s *copySource) Err() error { return s.err }

// progress shows how an import goes: a bar on a terminal, else a log
// line every interval and one at the end.
type progress struct {
	name   string
	stderr io.Writer
	bar    *progressbar.ProgressBar
	log    *slog.Logger
	every  time.Duration
	start  time.Time
	last   time.Time
}

func newProgress(name string, stderr io.Writer, log *slog.Logger, every time.Duration) *progress {
	p := &progress{name: name, stderr: stderr, log: log, every: every, start: time.Now()}
	p.last = p.start
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription(filepath.Base(name)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
		)
	}
	return p
}

// update reports rows done and the source's position in its file.
func (p *progress) update(rows int64, src interface{ Progress() (int64, int64) }) {
	done, total := src.Progress()
	p.set(rows, done, total)
}

func (p *progress) set(rows, done, total int64) {
	now := time.Now()
	rate := float64(rows) / max(now.Sub(p.start).Seconds(), 1e-9)
	if p.bar != nil {
		if total > 0 && p.bar.GetMax64() != total {
			p.bar.ChangeMax64(total)
		}
		p.bar.Describe(fmt.Sprintf("%s: %d rows, %.0f rows/s", filepath.Base(p.name), rows, rate))
		p.bar.Set64(done)
		return
	}
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	attrs := []any{"file", p.name, "rows", rows, "rows_per_s", int64(rate), "bytes", done, "total_bytes", total}
	if done > 0 && total >= done {
		eta := time.Duration(float64(now.Sub(p.start)) * float64(total-done) / float64(done))
		attrs = append(attrs, "eta", eta.Round(time.Second).String())
	}
	p.log.Info("import progress", attrs...)
}

func (p *progress) note(msg string) {
	if p.bar != nil {
		fmt.Fprintln(p.stderr)
	}
	p.log.Info(msg, "file", p.name)
}

// finish closes the bar and logs the outcome.
func (p *progress) finish(rows int64, err error) {
	if p.bar != nil {
		if err == nil {
			p.bar.Finish()
		}
		p.bar.Exit()
		fmt.Fprintln(p.stderr)
	}
	d := time.Since(p.start)
	if err != nil {
		return // the caller reports the error
	}
	p.log.Info("import done", "file", p.name, "rows", rows, "seconds", d.Round(time.Millisecond).Seconds(), "rows_per_s", int64(float64(rows)/max(d.Seconds(), 1e-9)))
}
