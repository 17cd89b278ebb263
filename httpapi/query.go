package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/pgcatalog"
)

// The query API: GET or POST /api/v1/query?db=…&q=… runs one SQL
// statement for a tenant and streams its result as JSON (the default),
// CSV (Accept: text/csv) or an Arrow IPC stream (Accept:
// application/vnd.apache.arrow.stream); ?format=json|csv|arrow beats the
// Accept header. POST may carry db and q in a form body or a JSON body
// {"db": …, "q": …}.
//
// Errors before the first bytes of the result are sent are statuses with
// a JSON body {"code", "message", "sqlstate"}. The first commitBytes of a
// result are held back, so most errors (and every error of a small
// result) get a status. An error after that ends a JSON result with an
// "error" member; a CSV or Arrow result is cut off (the connection is
// closed without the end of the chunked body), so no client mistakes it
// for a whole one.

const (
	contentJSON  = "application/json; charset=utf-8"
	contentCSV   = "text/csv; charset=utf-8; header=present"
	contentArrow = "application/vnd.apache.arrow.stream"

	// commitBytes of a result are buffered before the status is sent.
	commitBytes = 256 << 10
	// codeLimit is the SQLSTATE of a result over the server's limits
	// (program_limit_exceeded).
	codeLimit = "54000"
)

type format int

const (
	formatJSON format = iota
	formatCSV
	formatArrow
)

// queryFormat picks the result format from ?format= or the Accept header.
func queryFormat(r *http.Request) (format, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "":
	case "json":
		return formatJSON, nil
	case "csv":
		return formatCSV, nil
	case "arrow":
		return formatArrow, nil
	default:
		return 0, fmt.Errorf("unknown format %q: want json, csv or arrow", f)
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return formatJSON, nil
	}
	best, bestQ := format(-1), 0.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(v, 64); err != nil {
				continue
			}
		}
		f := format(-1)
		switch mt {
		case "application/json", "application/*", "*/*":
			f = formatJSON
		case "text/csv", "text/*":
			f = formatCSV
		case "application/vnd.apache.arrow.stream":
			f = formatArrow
		}
		if f >= 0 && q > bestQ {
			best, bestQ = f, q
		}
	}
	if best < 0 {
		return 0, fmt.Errorf("cannot produce %q: the query API answers application/json, text/csv or application/vnd.apache.arrow.stream", accept)
	}
	return best, nil
}

// queryParams reads db and q from the URL, a form body or a JSON body.
func queryParams(r *http.Request, maxBody int64) (db, q string, err error) {
	db, q = r.URL.Query().Get("db"), r.URL.Query().Get("q")
	if r.Method == http.MethodPost && r.Body != nil {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return "", "", fmt.Errorf("read body: %w", err)
		}
		if int64(len(body)) > maxBody {
			return "", "", errBodyTooLarge{maxBody}
		}
		switch {
		case ct == "application/json":
			if !utf8.Valid(body) { // encoding/json would replace the bad bytes
				return "", "", errs.New(errs.ErrInvalidInput, "22021", "JSON body: invalid byte sequence for encoding \"UTF8\"")
			}
			var v struct{ DB, Q string }
			if err := json.Unmarshal(body, &v); err != nil {
				return "", "", fmt.Errorf("JSON body: %w", err)
			}
			db, q = cmp(v.DB, db), cmp(v.Q, q)
		case ct == "application/x-www-form-urlencoded":
			vals, err := url.ParseQuery(string(body))
			if err != nil {
				return "", "", fmt.Errorf("form body: %w", err)
			}
			db, q = cmp(vals.Get("db"), db), cmp(vals.Get("q"), q)
		case len(bytes.TrimSpace(body)) > 0 && q == "":
			// a plain body is the statement, as psql -f would send it
			q = string(body)
		}
	}
	switch {
	case db == "":
		return "", "", errors.New("missing parameter db (the database, i.e. tenant)")
	case strings.TrimSpace(q) == "":
		return "", "", errors.New("missing parameter q (the SQL statement)")
	}
	return db, q, nil
}

// errBodyTooLarge: a request body over MaxBodyBytes (413).
type errBodyTooLarge struct{ limit int64 }

func (e errBodyTooLarge) Error() string {
	return fmt.Sprintf("request body is more than the limit of %d bytes", e.limit)
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// query serves /api/v1/query.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	f, err := queryFormat(r)
	if err != nil {
		httpError(w, http.StatusNotAcceptable, "invalid", err.Error())
		return
	}
	// the database's ugnos.max_request_bytes, when the URL names it (else
	// checked on the Content-Length once the body has named it)
	maxBody := s.cfg.maxBody()
	if own := s.db.RequestBodyLimit(r.URL.Query().Get("db")); own > 0 && own < maxBody {
		if r.ContentLength > own {
			httpError(w, http.StatusRequestEntityTooLarge, "request too large", s.db.RequestTooLarge(r.URL.Query().Get("db"), own).Error())
			return
		}
		maxBody = own
	}
	db, q, err := queryParams(r, maxBody)
	if errors.As(err, new(errBodyTooLarge)) {
		httpError(w, http.StatusRequestEntityTooLarge, "request too large", err.Error())
		return
	}
	if errors.As(err, new(*errs.Error)) {
		s.sqlError(w, r, err)
		return
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	sess := *session(r)
	sess.DictionaryTags = f == formatArrow
	ctx := ugnos.WithSession(r.Context(), &sess)
	if err := s.db.AuthorizeTable(ctx, db, "", ugnos.PrivConnect); err != nil {
		s.forbidden(w, r, &sess, err)
		return
	}
	if own := s.db.RequestBodyLimit(db); own > 0 && r.ContentLength > own {
		httpError(w, http.StatusRequestEntityTooLarge, "request too large", s.db.RequestTooLarge(db, own).Error())
		return
	}
	res, err := s.db.Exec(ctx, db, q)
	if err != nil {
		s.sqlError(w, r, err)
		return
	}
	if res.Rows == nil {
		s.commandResult(w, f, res)
		return
	}
	defer res.Rows.Release()
	out := &resultWriter{w: w, rc: http.NewResponseController(w), maxBytes: s.cfg.maxResultBytes()}
	var enc encoder
	switch f {
	case formatCSV:
		out.contentType = contentCSV
		enc = &csvEncoder{}
	case formatArrow:
		out.contentType = contentArrow
		enc = &arrowEncoder{}
	default:
		out.contentType = contentJSON
		enc = &jsonEncoder{}
	}
	err = s.stream(ctx, out, enc, res.Rows)
	if err == nil {
		err = out.flush()
		if err == nil {
			return
		}
	}
	if r.Context().Err() != nil {
		return // the client went away: the statement was cancelled
	}
	if !out.committed {
		s.sqlError(w, r, err)
		return
	}
	s.log.Warn("query result cut off", "db", db, "err", err)
	if f == formatJSON {
		out.buf.Reset()
		enc.(*jsonEncoder).fail(&out.buf, err)
		out.w.Write(out.buf.Bytes())
		return
	}
	panic(http.ErrAbortHandler)
}

// stream encodes the records of rd into out under the row limit.
func (s *Server) stream(ctx context.Context, out *resultWriter, enc encoder, rd array.RecordReader) error {
	if err := enc.begin(&out.buf, rd.Schema()); err != nil {
		return err
	}
	var rows int64
	maxRows := s.cfg.maxResultRows()
	for rd.Next() {
		rec := rd.RecordBatch()
		if rows+rec.NumRows() > maxRows {
			return errs.New(errs.ErrInvalidInput, codeLimit, "the result has more than %d rows (the server's limit, Config.MaxResultRows); add a LIMIT or narrow the time range", maxRows)
		}
		rows += rec.NumRows()
		if err := enc.record(out, rec); err != nil {
			return err
		}
		if err := out.maybeFlush(); err != nil {
			return err
		}
	}
	if err := rd.Err(); err != nil {
		return err
	}
	return enc.end(&out.buf, rows)
}

// commandResult answers a statement without rows (DDL, DML) with its
// command tag: {"command": "INSERT 0 3", "rows_affected": 3}.
func (s *Server) commandResult(w http.ResponseWriter, f format, res *ugnos.Result) {
	switch f {
	case formatCSV:
		w.Header().Set("Content-Type", contentCSV)
		fmt.Fprintf(w, "command,rows_affected\r\n%s,%d\r\n", csvQuote(res.Tag), res.RowsAffected)
	case formatArrow:
		w.Header().Set("Content-Type", contentArrow)
		iw := ipc.NewWriter(w, ipc.WithSchema(arrow.NewSchema(nil, nil)))
		iw.Close()
	default:
		w.Header().Set("Content-Type", contentJSON)
		json.NewEncoder(w).Encode(struct {
			Command      string `json:"command"`
			RowsAffected int64  `json:"rows_affected"`
		}{res.Tag, res.RowsAffected})
	}
}

// sqlError answers an error of a statement: 404 for an unknown database,
// 403 for a privilege, 503 when the database is closing, 500 for internal
// errors and corruption, 400 for the rest (SQL errors).
func (s *Server) sqlError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := errorStatus(err)
	if status >= 500 {
		s.log.Error("query failed", "err", err)
	}
	if status == http.StatusForbidden {
		s.auditDenied(r, session(r), err)
	}
	var e *errs.Error
	pos := 0
	if errors.As(err, &e) {
		pos = e.Pos
	}
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		SQLState string `json:"sqlstate"`
		Position int    `json:"position,omitempty"`
	}{code, err.Error(), errs.SQLState(err), pos})
}

func errorStatus(err error) (int, string) {
	switch {
	case errs.SQLState(err) == errs.CodeInvalidCatalogName:
		return http.StatusNotFound, "not found"
	case errors.Is(err, errs.ErrPermissionDenied):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errs.ErrClosed):
		return http.StatusServiceUnavailable, "unavailable"
	case errors.Is(err, errs.ErrInternal), errors.Is(err, errs.ErrCorrupt):
		return http.StatusInternalServerError, "internal error"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "unavailable"
	}
	var e interface{ SQLState() string }
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, "internal error"
	}
	return http.StatusBadRequest, "invalid"
}

// resultWriter holds back the first commitBytes of a result, so that an
// error before then can still be a status, then streams.
type resultWriter struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType string
	buf         bytes.Buffer
	committed   bool
	written     int64
	maxBytes    int64
}

func (o *resultWriter) Write(p []byte) (int, error) { return o.buf.Write(p) }

// maybeFlush sends what is buffered once there is enough of it.
func (o *resultWriter) maybeFlush() error {
	if o.buf.Len() < 64<<10 || !o.committed && o.buf.Len() < commitBytes {
		return o.checkSize()
	}
	return o.flush()
}

func (o *resultWriter) checkSize() error {
	if o.written+int64(o.buf.Len()) > o.maxBytes {
		return errs.New(errs.ErrInvalidInput, codeLimit, "the result is larger than %d bytes (the server's limit, Config.MaxResultBytes); add a LIMIT, select fewer columns or narrow the time range", o.maxBytes)
	}
	return nil
}

func (o *resultWriter) flush() error {
	if err := o.checkSize(); err != nil {
		return err
	}
	if !o.committed {
		o.committed = true
		o.w.Header().Set("Content-Type", o.contentType)
		o.w.Header().Set("Cache-Control", "no-store")
		o.w.Header().Set("X-Content-Type-Options", "nosniff")
		o.w.WriteHeader(http.StatusOK)
	}
	if o.buf.Len() == 0 {
		return nil
	}
	n, err := o.w.Write(o.buf.Bytes())
	o.written += int64(n)
	o.buf.Reset()
	if err != nil {
		return err
	}
	if err := o.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}

// encoder writes a result in one format.
type encoder interface {
	begin(b *bytes.Buffer, schema *arrow.Schema) error
	record(o *resultWriter, rec arrow.RecordBatch) error
	end(b *bytes.Buffer, rows int64) error
}

// columnType is the PostgreSQL name of a result column's type: the
// catalog's narrower type where the column carries one (int4, oid, name),
// else ugnos's (timestamptz, double precision, bigint, text, boolean,
// numeric, interval, date).
func columnType(f arrow.Field) string {
	if v, ok := f.Metadata.GetValue(pgcatalog.MetaPGType); ok {
		return v
	}
	t, err := functions.FieldType(f)
	if err != nil {
		return f.Type.String()
	}
	if t == functions.TTimestamp {
		return "timestamptz"
	}
	return t.Name()
}

// valueFunc appends row i of a column; ok false means NULL.
type valueFunc func(b []byte, i int) ([]byte, bool)

// textValues returns the appender of a column's values as text: the form
// CSV uses and JSON quotes, except numbers and booleans, which JSON writes
// bare (json true).
func textValues(a arrow.Array, numeric, json bool) valueFunc {
	null := func(i int) bool { return a.IsNull(i) }
	switch a := a.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			if json {
				b = append(b, '"')
			}
			b = a.Value(i).ToTime(unit).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000000Z")
			if json {
				b = append(b, '"')
			}
			return b, true
		}
	case *array.Float64:
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			return appendFloat(b, a.Value(i), json), true
		}
	case *array.Float32:
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			return appendFloat(b, float64(a.Value(i)), json), true
		}
	case *array.Boolean:
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			return strconv.AppendBool(b, a.Value(i)), true
		}
	case *array.Date32:
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			return appendString(b, functions.FormatDate(int64(a.Value(i))), json), true
		}
	case *array.MonthDayNanoInterval:
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			v := a.Value(i)
			return appendString(b, functions.FormatInterval(functions.Interval{Months: v.Months, Days: v.Days, Nanos: v.Nanoseconds}), json), true
		}
	case *array.String:
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			v := a.Value(i)
			if numeric && json && isJSONNumber(v) {
				return append(b, v...), true
			}
			return appendString(b, v, json), true
		}
	case *array.Dictionary:
		dict := textValues(a.Dictionary(), numeric, json)
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			return dict(b, a.GetValueIndex(i))
		}
	}
	if arrow.IsInteger(a.DataType().ID()) {
		return func(b []byte, i int) ([]byte, bool) {
			if null(i) {
				return b, false
			}
			return append(b, a.ValueStr(i)...), true
		}
	}
	return func(b []byte, i int) ([]byte, bool) {
		if null(i) {
			return b, false
		}
		return appendString(b, a.ValueStr(i), json), true
	}
}

// appendFloat writes a double as the shortest text that reads back the
// same; JSON has no NaN and infinities, so they are the strings "NaN",
// "Infinity" and "-Infinity" (PostgreSQL's spelling).
func appendFloat(b []byte, v float64, json bool) []byte {
	var s string
	switch {
	case math.IsNaN(v):
		s = "NaN"
	case math.IsInf(v, 1):
		s = "Infinity"
	case math.IsInf(v, -1):
		s = "-Infinity"
	default:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return appendString(b, s, json)
}

func appendString(b []byte, s string, json bool) []byte {
	if !json {
		return append(b, s...)
	}
	return appendJSONString(b, s)
}

// isJSONNumber reports whether a numeric value's text is a JSON number
// (not NaN or Infinity).
func isJSONNumber(s string) bool {
	return s != "" && json.Valid([]byte(s)) && (s[0] == '-' || s[0] >= '0' && s[0] <= '9')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (invalid UTF-8 becomes
// U+FFFD, as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonEncoder writes {"columns":[{"name","type"}…],"rows":[[…]…]}.
type jsonEncoder struct {
	rows int64
}

func (e *jsonEncoder) begin(b *bytes.Buffer, schema *arrow.Schema) error {
	b.WriteString(`{"columns":[`)
	for i, f := range schema.Fields() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		b.Write(appendJSONString(nil, f.Name))
		b.WriteString(`,"type":`)
		b.Write(appendJSONString(nil, columnType(f)))
		b.WriteByte('}')
	}
	b.WriteString(`],"rows":[`)
	return nil
}

func (e *jsonEncoder) record(o *resultWriter, rec arrow.RecordBatch) error {
	cols := make([]valueFunc, rec.NumCols())
	for c := range cols {
		cols[c] = textValues(rec.Column(c), isNumeric(rec.Schema().Field(c)), true)
	}
	var line []byte
	for i := 0; i < int(rec.NumRows()); i++ {
		line = line[:0]
		if e.rows > 0 {
			line = append(line, ',')
		}
		e.rows++
		line = append(line, '[')
		for c, f := range cols {
			if c > 0 {
				line = append(line, ',')
			}
			var ok bool
			if line, ok = f(line, i); !ok {
				line = append(line, "null"...)
			}
		}
		line = append(line, ']')
		o.buf.Write(line)
		if o.buf.Len() >= 64<<10 {
			if err := o.maybeFlush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *jsonEncoder) end(b *bytes.Buffer, rows int64) error {
	b.WriteString("]}\n")
	return nil
}

// fail ends a JSON result cut off by an error.
func (e *jsonEncoder) fail(b *bytes.Buffer, err error) {
	_, code := errorStatus(err)
	msg, _ := json.Marshal(struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		SQLState string `json:"sqlstate"`
	}{code, err.Error(), errs.SQLState(err)})
	b.WriteString(`],"error":`)
	b.Write(msg)
	b.WriteString("}\n")
}

func isNumeric(f arrow.Field) bool {
	t, err := functions.FieldType(f)
	return err == nil && t == functions.TNumeric
}

// csvEncoder writes RFC 4180 CSV: a header row, CRLF line ends, fields
// quoted when they hold a comma, quote, CR or LF, or are the empty string
// (NULL is an empty unquoted field, as PostgreSQL's COPY … CSV writes it).
type csvEncoder struct{}

func (e *csvEncoder) begin(b *bytes.Buffer, schema *arrow.Schema) error {
	for i, f := range schema.Fields() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(csvQuote(f.Name))
	}
	b.WriteString("\r\n")
	return nil
}

func (e *csvEncoder) record(o *resultWriter, rec arrow.RecordBatch) error {
	cols := make([]valueFunc, rec.NumCols())
	for c := range cols {
		cols[c] = textValues(rec.Column(c), false, false)
	}
	var line, val []byte
	for i := 0; i < int(rec.NumRows()); i++ {
		line = line[:0]
		for c, f := range cols {
			if c > 0 {
				line = append(line, ',')
			}
			var ok bool
			if val, ok = f(val[:0], i); ok {
				line = appendCSV(line, val)
			}
		}
		line = append(line, '\r', '\n')
		o.buf.Write(line)
		if o.buf.Len() >= 64<<10 {
			if err := o.maybeFlush(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *csvEncoder) end(*bytes.Buffer, int64) error { return nil }

func csvQuote(s string) string { return string(appendCSV(nil, []byte(s))) }

func appendCSV(b, v []byte) []byte {
	if len(v) > 0 && !bytes.ContainsAny(v, ",\"\r\n") {
		return append(b, v...)
	}
	b = append(b, '"')
	for _, c := range v {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// arrowEncoder writes an Arrow IPC stream: the records as they come, tag
// columns dictionary-encoded (a new dictionary replaces the last where a
// record's differs).
type arrowEncoder struct {
	w *ipc.Writer
}

func (e *arrowEncoder) begin(b *bytes.Buffer, schema *arrow.Schema) error {
	e.w = ipc.NewWriter(b, ipc.WithSchema(schema))
	return nil
}

func (e *arrowEncoder) record(o *resultWriter, rec arrow.RecordBatch) error {
	return e.w.Write(rec)
}

func (e *arrowEncoder) end(*bytes.Buffer, int64) error { return e.w.Close() }
