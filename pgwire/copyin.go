package pgwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
)

// COPY FROM STDIN in text and CSV is parsed on several cores: the stream
// is cut at record boundaries into chunks of about copyChunkBytes, and
// workers parse chunks into Arrow records in parallel. Binary COPY is
// parsed as it arrives. The records are written when CopyDone arrives
// (several at a time), or early once copyBufferBytes are buffered.

const copyChunkBytes = 4 << 20

// copyParser turns rows into Arrow records for one COPY (one per worker).
type copyParser struct {
	opts    copyOptions
	targets []copyTarget
	table   string
	batch   *copyBatch
	line    int64 // line (text, CSV) or tuple (binary) being parsed
	fields  [][]byte
	quoted  []bool
	recs    []arrow.RecordBatch
	bytes   int64
	rows    int64
}

func newCopyParser(opts copyOptions, targets []copyTarget, table string) *copyParser {
	return &copyParser{opts: opts, targets: targets, table: table, batch: newCopyBatch(targets)}
}

// errorf reports a bad row with PostgreSQL's context (table and line).
func (p *copyParser) errorf(code, format string, args ...any) error {
	return errs.New(errs.ErrInvalidInput, code, "%s (COPY %s, line %d)", fmt.Sprintf(format, args...), p.table, p.line)
}

// cut turns the batch into a record.
func (p *copyParser) cut() {
	if p.batch.rows > 0 {
		rec := p.batch.record()
		p.bytes += arrowstore.RecordBytes(rec)
		p.recs = append(p.recs, rec)
	}
}

// parseLines parses complete text or CSV records.
func (p *copyParser) parseLines(data []byte) error {
	if p.opts.format == "csv" {
		return p.parseCSV(data)
	}
	pos := 0
	for pos < len(data) {
		end := bytes.IndexByte(data[pos:], '\n')
		next := pos + end + 1
		if end < 0 {
			end, next = len(data)-pos, len(data)
		}
		line := bytes.TrimSuffix(data[pos:pos+end], []byte{'\r'})
		pos = next
		p.line++
		if bytes.Equal(line, []byte(`\.`)) {
			return nil // the end-of-data marker of old clients
		}
		if err := p.splitText(line); err != nil {
			return err
		}
		if err := p.addRow(); err != nil {
			return err
		}
	}
	return nil
}

// parseCSV parses complete CSV records in one pass: fields are split as
// the record's end is found (quoted fields may hold line breaks).
func (p *copyParser) parseCSV(data []byte) error {
	q, e, d := p.opts.quote, p.opts.escape, p.opts.delim
	pos := 0
	for pos < len(data) {
		p.line++
		p.fields, p.quoted = p.fields[:0], p.quoted[:0]
		i := pos
		if data[i] == '\n' || data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			if len(p.targets) != 1 {
				// an empty CSV line is a row of one NULL field
				return p.errorf("22P04", "missing data for column %q", p.targets[1].col.Name)
			}
		}
		for {
			if i < len(data) && data[i] == q {
				var f []byte
				i++
				for {
					if i >= len(data) {
						return p.errorf("22P04", "unterminated CSV quoted field")
					}
					ch := data[i]
					if ch == e && i+1 < len(data) && (data[i+1] == q || e != q && data[i+1] == e) {
						f = append(f, data[i+1])
						i += 2
						continue
					}
					if ch == q {
						i++
						break
					}
					f = append(f, ch)
					i++
				}
				// text after the closing quote up to the delimiter is kept
				for i < len(data) && data[i] != d && data[i] != '\n' {
					f = append(f, data[i])
					i++
				}
				if f == nil {
					f = []byte{}
				}
				f = bytes.TrimSuffix(f, []byte{'\r'})
				p.fields = append(p.fields, f)
				p.quoted = append(p.quoted, true)
			} else {
				j := i
				for j < len(data) && data[j] != d && data[j] != '\n' {
					j++
				}
				f := data[i:j]
				if j < len(data) && data[j] == '\n' {
					f = bytes.TrimSuffix(f, []byte{'\r'})
				}
				p.fields = append(p.fields, nilIfNull(f, p.opts.null))
				p.quoted = append(p.quoted, false)
				i = j
			}
			if i >= len(data) || data[i] == '\n' {
				break
			}
			i++ // the delimiter; a record may end with an empty field
			if i >= len(data) || data[i] == '\n' {
				p.fields = append(p.fields, nilIfNull([]byte{}, p.opts.null))
				p.quoted = append(p.quoted, false)
				break
			}
		}
		pos = i + 1
		if err := p.addRow(); err != nil {
			return err
		}
	}
	return nil
}

func (p *copyParser) splitText(line []byte) error {
	p.fields, p.quoted = p.fields[:0], p.quoted[:0]
	d := p.opts.delim
	start := 0
	for i := 0; i <= len(line); i++ {
		if i < len(line) && line[i] != d {
			if line[i] == '\\' {
				i++
			}
			continue
		}
		f := line[start:min(i, len(line))]
		null := string(f) == p.opts.null
		if !null && bytes.IndexByte(f, '\\') >= 0 {
			var err error
			if f, err = unescapeText(f); err != nil {
				return p.errorf("22P04", "%v", err)
			}
		}
		if null {
			f = nil
		}
		p.fields = append(p.fields, f)
		p.quoted = append(p.quoted, false)
		start = i + 1
	}
	return nil
}

// addRow appends the split fields as a row.
func (p *copyParser) addRow() error {
	if len(p.fields) < len(p.targets) {
		return p.errorf("22P04", "missing data for column %q", p.targets[len(p.fields)].col.Name)
	}
	if len(p.fields) > len(p.targets) {
		return p.errorf("22P04", "extra data after last expected column")
	}
	for i, f := range p.fields {
		t := &p.targets[i]
		if f != nil && t.force && p.quoted[i] && string(f) == p.opts.null {
			f = nil
		}
		if err := p.batch.add(i, f); err != nil {
			return p.errorf(errs.SQLState(err), "%s, column %s", err.Error(), t.col.Name)
		}
	}
	p.batch.rows++
	p.rows++
	if p.batch.rows >= copyBatchRows {
		p.cut()
	}
	return nil
}

// copyReader consumes the CopyData stream of one COPY FROM STDIN.
type copyReader struct {
	conn   *conn
	opts   copyOptions
	seq    *copyParser // binary, and the header line
	buf    []byte
	lines  int64 // records cut into chunks so far (text, CSV)
	header bool  // the header line is still to skip
	binHdr bool  // the binary header is read
	ended  bool  // binary trailer seen
	failed error
	tried  int // len(buf) when no record end was found in it

	newParser func() *copyParser
	jobs      chan copyJob
	workers   sync.WaitGroup
	inflight  sync.WaitGroup
	mu        sync.Mutex
	recs      []arrow.RecordBatch
	bytes     int64
	rows      int64
	errs      []*lineError
	free      chan []byte // chunk buffers the workers are done with
}

// chunkBuf is an empty buffer with room for a chunk and one more message,
// recycled from parsed chunks where possible (fresh memory costs page
// faults as well as zeroing).
func (r *copyReader) chunkBuf() []byte {
	select {
	case b := <-r.free:
		return b
	default:
		return make([]byte, 0, copyChunkBytes+64<<10)
	}
}

type copyJob struct {
	data []byte
	line int64 // records before this chunk
}

type lineError struct {
	line int64
	err  error
}

func newCopyReader(c *conn, opts copyOptions, targets []copyTarget, table string) *copyReader {
	r := &copyReader{conn: c, opts: opts, header: opts.header, free: make(chan []byte, 4)}
	r.newParser = func() *copyParser { return newCopyParser(opts, targets, table) }
	r.seq = r.newParser()
	return r
}

// run reads messages until CopyDone or CopyFail. A failed COPY drains the
// stream to CopyDone/CopyFail so the connection stays in step; nothing of
// it is stored unless it was past the buffer limit.
func (r *copyReader) run(ctx context.Context) (n int64, err error) {
	defer r.release()
	for {
		msg, err := r.conn.be.Receive()
		if err != nil {
			r.stopWorkers()
			return 0, err
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if r.failed != nil {
				continue
			}
			if err := ctx.Err(); err != nil {
				r.failed = err
				continue
			}
			if r.buf == nil && r.opts.format != "binary" {
				r.buf = r.chunkBuf()
			}
			r.buf = append(r.buf, m.Data...)
			r.failed = r.consume(ctx, false)
		case *pgproto3.CopyDone:
			if r.failed == nil {
				r.failed = r.consume(ctx, true)
			}
			r.stopWorkers()
			if r.failed == nil {
				r.failed = r.firstError()
			}
			if r.failed == nil {
				r.failed = r.write(ctx)
			}
			if r.failed != nil {
				return 0, r.failed
			}
			return r.rows + r.seq.rows, nil
		case *pgproto3.CopyFail:
			r.stopWorkers()
			return 0, errs.New(errs.ErrInvalidInput, "57014", "COPY from stdin failed: %s", m.Message)
		case *pgproto3.Flush, *pgproto3.Sync:
			// allowed during COPY; nothing to do
		default:
			r.stopWorkers()
			return 0, errs.New(errs.ErrInvalidInput, "08P01", "unexpected message type %T during COPY from stdin", msg)
		}
	}
}

func (r *copyReader) release() {
	for _, rec := range append(r.recs, r.seq.recs...) {
		rec.Release()
	}
	r.recs, r.seq.recs = nil, nil
}

// consume hands complete records to the workers (text, CSV) or parses
// binary tuples.
func (r *copyReader) consume(ctx context.Context, atEnd bool) error {
	if r.opts.format == "binary" {
		used, err := r.parseBinary(atEnd)
		if err != nil {
			return err
		}
		r.buf = append(r.buf[:0], r.buf[used:]...)
		if r.seq.bytes >= copyBufferBytes {
			return r.write(ctx)
		}
		return nil
	}
	if r.header {
		end := r.recordEnd(r.buf)
		if end < 0 && !atEnd {
			return nil
		}
		if end < 0 {
			end = len(r.buf) - 1
		}
		r.buf = append(r.buf[:0], r.buf[end+1:]...)
		r.header = false
		r.lines++
	}
	if !atEnd && (len(r.buf) < copyChunkBytes || len(r.buf) < r.tried+copyChunkBytes) {
		// a record longer than a chunk is looked for again only after
		// another chunk came: scanning on every message was quadratic
		return nil
	}
	var cut int
	var records int64
	if r.opts.format == "csv" && bytes.IndexByte(r.buf, r.opts.quote) < 0 {
		// no quote in the chunk: records end at every newline
		cut = bytes.LastIndexByte(r.buf, '\n') + 1
		records = int64(bytes.Count(r.buf[:cut], []byte{'\n'}))
	} else if r.opts.format == "csv" {
		for pos := 0; pos < len(r.buf); {
			end := csvRecordEnd(r.buf[pos:], r.opts.quote, r.opts.escape)
			if end < 0 {
				break
			}
			pos += end + 1
			cut, records = pos, records+1
		}
	} else {
		cut = bytes.LastIndexByte(r.buf, '\n') + 1
		records = int64(bytes.Count(r.buf[:cut], []byte{'\n'}))
	}
	if atEnd && cut < len(r.buf) {
		cut, records = len(r.buf), records+1 // a last record without newline
	}
	if cut == 0 {
		r.tried = len(r.buf)
		return nil
	}
	r.tried = 0
	data := r.buf[:cut]
	next := []byte(nil)
	if !atEnd { // more to come: room for the next chunk at once
		next = r.chunkBuf()
	}
	r.buf = append(next, r.buf[cut:]...)
	r.dispatch(copyJob{data: data, line: r.lines})
	r.lines += records
	if r.bufferedBytes() >= copyBufferBytes {
		r.inflight.Wait()
		if err := r.firstError(); err != nil {
			return err
		}
		return r.write(ctx)
	}
	return nil
}

// recordEnd is the end of the first record in b, or -1.
func (r *copyReader) recordEnd(b []byte) int {
	if r.opts.format == "csv" {
		return csvRecordEnd(b, r.opts.quote, r.opts.escape)
	}
	return bytes.IndexByte(b, '\n')
}

func (r *copyReader) bufferedBytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// dispatch gives a chunk to a worker, starting the workers on first use.
func (r *copyReader) dispatch(j copyJob) {
	if r.jobs == nil {
		n := min(runtime.GOMAXPROCS(0), 8)
		r.jobs = make(chan copyJob, n)
		for range n {
			r.workers.Add(1)
			go r.work()
		}
	}
	r.inflight.Add(1)
	r.jobs <- j
}

func (r *copyReader) work() {
	defer r.workers.Done()
	for j := range r.jobs {
		p := r.newParser()
		p.batch.hint = bytes.Count(j.data, []byte{'\n'}) + 1
		p.batch.reset()
		p.line = j.line
		err := p.parseLines(j.data)
		p.cut()
		select { // the records hold copies: the chunk's memory is free again
		case r.free <- j.data[:0]:
		default:
		}
		r.mu.Lock()
		if err != nil {
			r.errs = append(r.errs, &lineError{line: p.line, err: err})
		}
		r.recs = append(r.recs, p.recs...)
		r.bytes += p.bytes
		r.rows += p.rows
		r.mu.Unlock()
		r.inflight.Done()
	}
}

func (r *copyReader) stopWorkers() {
	if r.jobs != nil {
		close(r.jobs)
		r.workers.Wait()
		r.jobs = nil
	}
}

// firstError is the error of the earliest bad line.
func (r *copyReader) firstError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	sort.Slice(r.errs, func(i, j int) bool { return r.errs[i].line < r.errs[j].line })
	return r.errs[0].err
}

// write stores the buffered records, several writers at a time.
func (r *copyReader) write(ctx context.Context) error {
	r.seq.cut()
	r.mu.Lock()
	recs := append(r.recs, r.seq.recs...)
	r.recs, r.seq.recs, r.bytes, r.seq.bytes = nil, nil, 0, 0
	r.mu.Unlock()
	defer func() {
		for _, rec := range recs {
			rec.Release()
		}
	}()
	var rows int64
	for _, rec := range recs {
		rows += rec.NumRows()
	}
	// the database's series limit and ingest rate take the whole COPY at once
	tables := make([]string, len(recs))
	for i := range tables {
		tables[i] = r.seq.table
	}
	if err := r.conn.srv.db.CheckNewSeries(r.conn.tenant, tables, recs); err != nil {
		return err
	}
	ctx, err := r.conn.srv.db.AdmitIngest(ctx, r.conn.tenant, int(rows))
	if err != nil {
		return err
	}
	next := make(chan arrow.RecordBatch, len(recs))
	for _, rec := range recs {
		next <- rec
	}
	close(next)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range min(runtime.GOMAXPROCS(0), 4, max(len(recs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range next {
				if err := r.conn.srv.db.WriteRecord(ctx, r.conn.tenant, r.seq.table, rec); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

var binarySignature = []byte("PGCOPY\n\xff\r\n\x00")

// parseBinary parses binary COPY tuples; it returns the bytes consumed.
func (r *copyReader) parseBinary(atEnd bool) (int, error) {
	p := r.seq
	b := r.buf
	pos := 0
	if !r.binHdr {
		if len(b) < 19 {
			if atEnd {
				return 0, p.errorf("22P04", "COPY file signature not recognized")
			}
			return 0, nil
		}
		if !bytes.Equal(b[:11], binarySignature) {
			return 0, p.errorf("22P04", "COPY file signature not recognized")
		}
		flags := binary.BigEndian.Uint32(b[11:])
		if flags&(1<<16) != 0 {
			return 0, p.errorf("22P04", "COPY binary with OIDs is not supported")
		}
		ext := int(binary.BigEndian.Uint32(b[15:]))
		if ext < 0 || 19+ext > len(b) {
			if atEnd || ext < 0 {
				return 0, p.errorf("22P04", "invalid COPY file header (missing extension)")
			}
			return 0, nil
		}
		pos = 19 + ext
		r.binHdr = true
	}
	for pos < len(b) {
		if r.ended {
			return 0, p.errorf("22P04", "data after the binary COPY trailer")
		}
		if len(b)-pos < 2 {
			break
		}
		nf := int(int16(binary.BigEndian.Uint16(b[pos:])))
		if nf == -1 {
			r.ended = true
			pos += 2
			continue
		}
		if nf != len(p.targets) {
			p.line++
			return 0, p.errorf("22P04", "row field count is %d, expected %d", nf, len(p.targets))
		}
		q := pos + 2
		p.fields = p.fields[:0]
		complete := true
		for k := 0; k < nf; k++ {
			if len(b)-q < 4 {
				complete = false
				break
			}
			l := int(int32(binary.BigEndian.Uint32(b[q:])))
			q += 4
			if l == -1 {
				p.fields = append(p.fields, nil)
				continue
			}
			if l < 0 {
				return 0, p.errorf("22P04", "invalid field size")
			}
			if len(b)-q < l {
				complete = false
				break
			}
			p.fields = append(p.fields, b[q:q+l:q+l])
			q += l
		}
		if !complete {
			break
		}
		p.line++
		for i, f := range p.fields {
			if err := p.batch.addBinary(i, f); err != nil {
				return 0, p.errorf(errs.SQLState(err), "%s, column %s", err.Error(), p.targets[i].col.Name)
			}
		}
		p.batch.rows++
		p.rows++
		pos = q
		if p.batch.rows >= copyBatchRows {
			p.cut()
		}
	}
	if atEnd && pos < len(b) {
		return 0, p.errorf("22P04", "unexpected end of binary COPY data")
	}
	return pos, nil
}
