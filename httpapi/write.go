package httpapi

// InfluxDB line-protocol writes: POST /write (v1) and POST /api/v2/write
// (v2). A request is all or nothing: every line is parsed and checked
// against the tables' columns before anything is written.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
)

// writeV1 serves InfluxDB 1.x's POST /write?db=&rp=&precision=&u=&p=.
// db is the tenant; u and p are a user and password (auth.go); rp is
// accepted and ignored.
func (s *Server) writeV1(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.write(w, r, q.Get("db"), "db", q.Get("precision"), true)
}

// writeV2 serves InfluxDB 2.x's POST /api/v2/write?bucket=&org=&precision=.
// bucket is the tenant; org is accepted and ignored.
func (s *Server) writeV2(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.write(w, r, q.Get("bucket"), "bucket", q.Get("precision"), false)
}

// precisions maps a precision parameter to ns per unit; v1 also takes
// InfluxDB 1.x's n, u, µ, m and h.
var (
	precisionsV2 = map[string]int64{"": 1, "ns": 1, "us": 1e3, "u": 1e3, "ms": 1e6, "s": 1e9}
	precisionsV1 = map[string]int64{"": 1, "n": 1, "ns": 1, "u": 1e3, "us": 1e3, "µ": 1e3, "ms": 1e6, "s": 1e9,
		"m": 60e9, "h": 3600e9}
)

func (s *Server) write(w http.ResponseWriter, r *http.Request, tenant, param, precision string, v1 bool) {
	fail := httpError
	if v1 {
		fail = httpErrorV1
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(w, http.StatusMethodNotAllowed, "method not allowed", r.Method+" is not allowed; use POST")
		return
	}
	if tenant == "" {
		fail(w, http.StatusBadRequest, "invalid", fmt.Sprintf("missing %s parameter", param))
		return
	}
	if err := s.db.AuthorizeTable(r.Context(), tenant, "", ugnos.PrivConnect); err != nil {
		s.forbidden(w, r, session(r), err)
		return
	}
	precs := precisionsV2
	if v1 {
		precs = precisionsV1
	}
	mul, ok := precs[precision]
	if !ok {
		fail(w, http.StatusBadRequest, "invalid", fmt.Sprintf("invalid precision %q (want ns, us, ms or s)", precision))
		return
	}
	buf := getBody()
	defer putBody(buf)
	limit := s.cfg.maxBody()
	own := s.db.RequestBodyLimit(tenant) // the database's quota
	if own > 0 && own < limit {
		limit = own
	}
	if status, err := s.readBody(r, buf, limit); err != nil {
		code := "invalid"
		if status == http.StatusRequestEntityTooLarge {
			code = "request too large"
			if limit == own {
				err = s.db.RequestTooLarge(tenant, own)
			}
		}
		fail(w, status, code, err.Error())
		return
	}
	body := buf.Bytes()

	b := getBatch()
	defer putBatch(b)
	b.mul = mul
	b.now = time.Now().UnixNano() / mul * mul
	if err := b.decodeBody(body); err != nil {
		fail(w, http.StatusBadRequest, "invalid", lineMessage(body, err))
		return
	}
	for _, t := range b.tables { // every table first: a refused one stores nothing of the request
		if err := s.db.AuthorizeTable(r.Context(), tenant, t.name, ugnos.PrivInsert); err != nil {
			s.forbidden(w, r, session(r), err)
			return
		}
	}
	if err := s.checkColumns(tenant, b); err != nil {
		fail(w, http.StatusBadRequest, "invalid", lineMessage(body, err))
		return
	}
	recs := make([]arrow.RecordBatch, len(b.tables))
	names := make([]string, len(b.tables))
	var rows int64
	for i, t := range b.tables {
		recs[i], names[i] = t.record(), t.name
		rows += recs[i].NumRows()
	}
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	// the database's series limit over the whole body, before anything is written
	if err := s.db.CheckNewSeries(tenant, names, recs); err != nil {
		status, code := writeErrorStatus(err)
		fail(w, status, code, err.Error())
		return
	}
	// the database's ingest rate takes the whole body at once
	ctx, err := s.db.AdmitIngest(r.Context(), tenant, int(rows))
	if err != nil {
		var qe *ugnos.QuotaError
		if errors.As(err, &qe) {
			w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(max(qe.RetryAfter.Seconds(), 1))), 10))
		}
		fail(w, http.StatusTooManyRequests, "too many requests", err.Error())
		return
	}
	for i, t := range b.tables {
		err := s.db.WriteRecord(ctx, tenant, t.name, recs[i])
		if err != nil {
			status, code := writeErrorStatus(err)
			s.log.Warn("line protocol write", "tenant", tenant, "table", t.name, "err", err)
			fail(w, status, code, err.Error())
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// readBody reads the (possibly gzipped) body into buf, at most
// limit bytes after decoding (Config.MaxBodyBytes, or the database's
// ugnos.max_request_bytes when smaller).
func (s *Server) readBody(r *http.Request, buf *bytes.Buffer, limit int64) (int, error) {
	if r.ContentLength > limit {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body is %d bytes, more than the limit of %d", r.ContentLength, limit)
	}
	var src io.Reader = http.MaxBytesReader(nil, r.Body, limit)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr := getGzip()
		defer putGzip(zr)
		if err := zr.Reset(src); err != nil {
			return bodyStatus(err, "gzip")
		}
		src = zr
	default:
		return http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q (want gzip or none)", enc)
	}
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	n, err := buf.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return bodyStatus(err, "body")
	}
	if n > limit {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body is more than the limit of %d bytes", limit)
	}
	return 0, nil
}

func bodyStatus(err error, what string) (int, error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, fmt.Errorf("request body is more than the limit of %d bytes", mbe.Limit)
	}
	if what == "gzip" || errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) {
		return http.StatusBadRequest, fmt.Errorf("read gzip body: %w", err)
	}
	return http.StatusBadRequest, fmt.Errorf("read body: %w", err)
}

// checkColumns compares every table's columns with the stored ones, so a
// kind or type conflict in any table stores nothing of the request.
func (s *Server) checkColumns(tenant string, b *lpBatch) error {
	if err := checkValues(b); err != nil {
		return err
	}
	for _, t := range b.tables {
		have, err := s.db.Columns(tenant, t.name)
		if err != nil {
			if errors.Is(err, errs.ErrNotFound) {
				continue
			}
			return err
		}
		for _, c := range t.cols {
			for _, h := range have {
				if h.Name != c.name {
					continue
				}
				switch {
				case h.Kind == arrowstore.KindTag && !c.tag:
					return errAt(c.line, fmt.Sprintf("field %q on measurement %q: a tag of that name exists", c.name, t.name))
				case h.Kind == arrowstore.KindField && c.tag:
					return errAt(c.line, fmt.Sprintf("tag %q on measurement %q: a field of that name exists", c.name, t.name))
				case h.Kind == arrowstore.KindField && h.Type != c.typ:
					return errAt(c.line, fmt.Sprintf("field type conflict: input field %q on measurement %q is type %s, already exists as type %s",
						c.name, t.name, influxType(c.typ), influxType(h.Type)))
				}
				break
			}
		}
	}
	return nil
}

// checkValues applies the engine's checks of names and text values (too
// long, not UTF-8, NUL) to every table before any is written: the tables
// of a request are written one by one, and a refusal of the second must
// not leave the first stored.
func checkValues(b *lpBatch) error {
	for _, t := range b.tables {
		if err := engine.ValidName("measurement", t.name); err != nil {
			return errAt(t.line, err.Error())
		}
		if len(t.cols) > engine.MaxColumns {
			return errAt(t.line, fmt.Sprintf("measurement %q has %d tag and field keys, more than the %d columns a table may have", t.name, len(t.cols), engine.MaxColumns))
		}
		for _, c := range t.cols {
			what, limit := "field", arrowstore.MaxTextLen
			if c.tag {
				what, limit = "tag", arrowstore.MaxTagValueLen
			}
			if err := engine.ValidName(what, c.name); err != nil {
				return errAt(c.line, err.Error())
			}
			if !c.tag && c.typ != arrowstore.TypeString {
				continue
			}
			for i := 0; i+1 < len(c.offs); i++ {
				v := c.data[c.offs[i]:c.offs[i+1]]
				if err := engine.CheckText(what, c.name, unsafe.String(unsafe.SliceData(v), len(v)), limit); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// lineMessage turns a decode or check error into InfluxDB's message:
// "unable to parse '<line>': <reason> (line N)".
func lineMessage(body []byte, err error) string {
	var le *lineError
	if !errors.As(err, &le) {
		return err.Error()
	}
	if le.line == 0 {
		le.line = entryLine(body, le.entry)
	}
	return fmt.Sprintf("unable to parse '%s': %s (line %d)", lineText(body, le.line), le.msg, le.line)
}

// writeErrorStatus maps an engine error to an HTTP status and InfluxDB code.
func writeErrorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, errs.ErrInvalidInput):
		return http.StatusBadRequest, "invalid"
	case errors.Is(err, errs.ErrNotFound):
		return http.StatusNotFound, "not found"
	case errors.Is(err, errs.ErrPermissionDenied):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, errs.ErrClosed), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal error"
}

// httpErrorV1 writes InfluxDB 1.x's {"error": "..."} with the 2.x code and
// message beside it, so clients of either version find what they read.
func httpErrorV1(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error   string `json:"error"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{msg, code, msg})
}

var (
	bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzipPool sync.Pool
)

func getBody() *bytes.Buffer { b := bodyPool.Get().(*bytes.Buffer); b.Reset(); return b }

func putBody(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		bodyPool.Put(b)
	}
}

func getGzip() *gzip.Reader {
	if z, ok := gzipPool.Get().(*gzip.Reader); ok {
		return z
	}
	return new(gzip.Reader)
}

func putGzip(z *gzip.Reader) { gzipPool.Put(z) }
