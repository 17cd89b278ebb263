package main

import (
	"context"
	"database/sql/driver"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// ugnos export: a table or a query's result to CSV or Parquet, from a data
// directory or a running server.

const exportUsage = `Usage:

	ugnos export --db NAME (--table T | --query SQL) [--format csv|parquet] -o FILE
	ugnos export --data-dir DIR ...

Writes a table (all rows, by time) or a query's result to FILE (- is
standard output, CSV only). --format defaults to FILE's extension, else csv.
CSV has a header row; timestamps are PostgreSQL's text form, booleans t/f,
NULL an empty cell. Parquet keeps the column types (timestamps in ns, UTC).

From a running server at --pg-addr (the default): CSV by COPY (query) TO
STDOUT, Parquet by running the query. With --data-dir, from a data
directory that no server holds. FILE is written whole or not at all.

Flags (a flag beats its environment variable, which beats the default):
`

type exportConfig struct {
	db, table, query, format, output         string
	dataDir, pgAddr, user, password, sslmode string
}

func exportCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var c exportConfig
	settings := []serveSetting{
		{"db", "UGNOS_DB", "postgres", "database (tenant) to export from", &c.db},
		{"table", "", "", "table to export", &c.table},
		{"query", "", "", "query whose result to export", &c.query},
		{"format", "", "", "csv or parquet (default: by the output file's extension)", &c.format},
		{"o", "", "", "output file (- for standard output)", &c.output},
		{"data-dir", "", "", "export from this data directory (no server may run on it)", &c.dataDir},
		{"pg-addr", "UGNOS_PG_ADDR", "127.0.0.1:5432", "server's PostgreSQL protocol address", &c.pgAddr},
		{"user", "UGNOS_USER", "ugnos", "user to connect as", &c.user},
		{"password", "UGNOS_PASSWORD", "", "password of --user, if the server asks for one", &c.password},
		{"sslmode", "UGNOS_SSLMODE", "prefer", "TLS to the server: disable, prefer, require, verify-ca or verify-full", &c.sslmode},
	}
	pos, given, err := parseCommand("export", exportUsage, settings, args, getenv, stderr)
	if err != nil {
		return usageExit("export", err, stderr)
	}
	switch {
	case len(pos) > 0:
		return usageExit("export", fmt.Errorf("unexpected arguments %q", pos), stderr)
	case (c.table == "") == (c.query == ""):
		return usageExit("export", errors.New("give exactly one of --table and --query"), stderr)
	case c.output == "":
		return usageExit("export", errors.New("no output file (-o FILE)"), stderr)
	case given["data-dir"] && given["pg-addr"]:
		return usageExit("export", errors.New("--data-dir and --pg-addr exclude each other"), stderr)
	}
	if c.format == "" {
		c.format = "csv"
		if ext := strings.ToLower(filepath.Ext(c.output)); ext == ".parquet" || ext == ".pq" {
			c.format = "parquet"
		}
	}
	if c.format != "csv" && c.format != "parquet" {
		return usageExit("export", fmt.Errorf("--format %q: want csv or parquet", c.format), stderr)
	}
	if c.format == "parquet" && c.output == "-" {
		return usageExit("export", errors.New("parquet output needs a file, not standard output"), stderr)
	}
	query := c.query
	if c.table != "" {
		query = "SELECT * FROM " + pgx.Identifier{c.table}.Sanitize() + " ORDER BY time"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rows, err := writeOutput(c.output, stdout, func(w io.Writer) (int64, error) {
		if given["data-dir"] {
			return exportEmbedded(ctx, &c, query, w, stderr)
		}
		return exportPG(ctx, &c, query, w)
	})
	if err != nil {
		fmt.Fprintf(stderr, "ugnos export: %v\n", err)
		return 1
	}
	if c.output != "-" {
		fmt.Fprintf(stderr, "ugnos export: %d rows to %s\n", rows, c.output)
	}
	return 0
}

// writeOutput runs write into a temporary file beside path and renames it
// into place when write succeeds (or writes to stdout for "-").
func writeOutput(path string, stdout io.Writer, write func(io.Writer) (int64, error)) (int64, error) {
	if path == "-" {
		return write(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return n, os.Rename(tmp.Name(), path)
}

func exportEmbedded(ctx context.Context, c *exportConfig, query string, w io.Writer, stderr io.Writer) (int64, error) {
	db, err := openOffline(c.dataDir, "use --pg-addr to export through the server", stderr)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	rd, err := db.SQL(ctx, c.db, query)
	if err != nil {
		return 0, err
	}
	defer rd.Release()
	if c.format == "parquet" {
		return writeParquet(w, rd.Schema(), func(yield func(arrow.RecordBatch) error) error {
			for rd.Next() {
				if err := yield(rd.RecordBatch()); err != nil {
					return err
				}
			}
			return rd.Err()
		})
	}
	cw := csv.NewWriter(w)
	hdr := make([]string, rd.Schema().NumFields())
	for i, f := range rd.Schema().Fields() {
		hdr[i] = f.Name
	}
	cw.Write(hdr)
	var n int64
	row := make([]string, len(hdr))
	for rd.Next() {
		rec := rd.RecordBatch()
		for r := 0; r < int(rec.NumRows()); r++ {
			for i, col := range rec.Columns() {
				row[i] = csvCell(col, r)
			}
			if err := cw.Write(row); err != nil {
				return n, err
			}
			n++
		}
	}
	if err := rd.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}

// csvCell formats a value as PostgreSQL's COPY … CSV does: timestamps
// "2006-01-02 15:04:05.999999999+00", booleans t/f, NULL empty.
func csvCell(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch v := valueAt(a, i).(type) {
	case time.Time:
		return v.UTC().Format("2006-01-02 15:04:05.999999999-07")
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		if v {
			return "t"
		}
		return "f"
	case string:
		return v
	}
	return a.ValueStr(i)
}

// writeParquet writes records to a zstd-compressed Parquet file with the
// Arrow schema stored in it.
func writeParquet(w io.Writer, sc *arrow.Schema, each func(func(arrow.RecordBatch) error) error) (int64, error) {
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true))
	// The file writer closes a sink that is an io.Closer; the caller
	// closes (or renames) the file.
	fw, err := pqarrow.NewFileWriter(sc, struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, fmt.Errorf("parquet: %w", err)
	}
	var n int64
	err = each(func(rec arrow.RecordBatch) error {
		n += rec.NumRows()
		return fw.WriteBuffered(rec)
	})
	if cerr := fw.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func exportPG(ctx context.Context, c *exportConfig, query string, w io.Writer) (int64, error) {
	conn, err := pgConnect(ctx, c.pgAddr, c.user, c.password, c.sslmode, c.db, "ugnos export")
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	if c.format == "csv" {
		tag, err := conn.PgConn().CopyTo(ctx, w, "COPY ("+query+") TO STDOUT WITH (FORMAT csv, HEADER)")
		return tag.RowsAffected(), err
	}
	rows, err := conn.Query(ctx, query)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	fds := rows.FieldDescriptions()
	fields := make([]arrow.Field, len(fds))
	for i, fd := range fds {
		fields[i] = arrow.Field{Name: fd.Name, Type: arrowTypeOf(fd.DataTypeOID), Nullable: true}
	}
	sc := arrow.NewSchema(fields, nil)
	const batch = 65536
	return writeParquet(w, sc, func(yield func(arrow.RecordBatch) error) error {
		b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
		defer b.Release()
		flush := func() error {
			rec := b.NewRecordBatch()
			defer rec.Release()
			if rec.NumRows() == 0 {
				return nil
			}
			return yield(rec)
		}
		n := 0
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			for i, v := range vals {
				appendValue(b.Field(i), v)
			}
			if n++; n == batch {
				if err := flush(); err != nil {
					return err
				}
				n = 0
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return flush()
	})
}

// arrowTypeOf is the Parquet export type of a PostgreSQL result column.
func arrowTypeOf(oid uint32) arrow.DataType {
	switch oid {
	case pgtype.TimestamptzOID, pgtype.TimestampOID:
		return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	case pgtype.Float8OID, pgtype.Float4OID:
		return arrow.PrimitiveTypes.Float64
	case pgtype.Int8OID, pgtype.Int4OID, pgtype.Int2OID:
		return arrow.PrimitiveTypes.Int64
	case pgtype.BoolOID:
		return arrow.FixedWidthTypes.Boolean
	}
	return arrow.BinaryTypes.String
}

func appendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(time.Time).UnixNano()))
	case *array.Float64Builder:
		switch v := v.(type) {
		case float64:
			b.Append(v)
		case float32:
			b.Append(float64(v))
		}
	case *array.Int64Builder:
		switch v := v.(type) {
		case int64:
			b.Append(v)
		case int32:
			b.Append(int64(v))
		case int16:
			b.Append(int64(v))
		}
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.StringBuilder:
		b.Append(textOf(v))
	}
}

// textOf is the text of a value of a type the export keeps as text.
func textOf(v any) string {
	if dv, ok := v.(driver.Valuer); ok {
		if x, err := dv.Value(); err == nil && x != nil {
			v = x
		}
	}
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return fmt.Sprint(v)
}
