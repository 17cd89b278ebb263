package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	lp "github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
)

// lpBatch holds the points of one write request, decoded column by column
// into one lpTable per measurement: no map or allocation per point. Batches
// are pooled with their buffers (getBatch / putBatch).
type lpBatch struct {
	gen    uint64
	tables []*lpTable          // this request's, in first-seen order
	byName map[string]*lpTable // every table the pooled batch has buffers for
	last   *lpTable            // the previous line's table
	now    int64               // default timestamp (ns), at the precision
	mul    int64               // ns per timestamp unit
	rows   int
}

// lpTable is one measurement's rows.
type lpTable struct {
	name   string
	gen    uint64
	n      int
	line   int // where it was first named: see lineError.at
	time   []int64
	cols   []*lpCol          // this request's, in first-seen order
	byName map[string]*lpCol // every column the table has buffers for
	order  []*lpCol          // the previous line's columns by position: a guess for the next line
	// series caches the fast decoder's tag sections: raw text → the
	// section's tags, sref[sstart[i]:sstart[i+1]]. Per request.
	series map[string]int32
	sref   []tagRef
	sstart []int32
}

// tagRef is one tag of a cached tag section.
type tagRef struct {
	col  *lpCol
	code int32
}

// lpCol is a tag or field column. Rows without a value are NULL.
type lpCol struct {
	name  string
	gen   uint64
	tag   bool
	plain bool                 // the name has no byte the fast decoder gives up on
	typ   arrowstore.FieldType // fields
	line  int                  // where it was first named: see lineError.at
	n     int                  // rows filled, values and NULLs
	valid []byte               // one byte per row once a NULL occurred; nil before
	f64   []float64
	i64   []int64
	bools []byte
	offs  []int32 // text: value offsets (tag dictionary values or field values)
	data  []byte
	codes []int32          // tags: dictionary codes
	dict  map[string]int32 // tags: value → code
}

// maxPooledRows: larger batches are not pooled, so one huge request does
// not pin its buffers.
const maxPooledRows = 1 << 17

var batchPool = sync.Pool{New: func() any { return &lpBatch{byName: map[string]*lpTable{}} }}

func getBatch() *lpBatch {
	b := batchPool.Get().(*lpBatch)
	b.reset()
	return b
}

// reset forgets the request's rows, keeping the buffers.
func (b *lpBatch) reset() {
	b.gen++
	b.tables, b.last, b.rows = b.tables[:0], nil, 0
}

// decodeBody decodes a request body: the fast decoder first, the library's
// if the fast one gives up.
func (b *lpBatch) decodeBody(body []byte) error {
	err := b.decodeFast(body)
	if !errors.Is(err, errSlow) {
		return err
	}
	b.reset()
	return b.decode(body)
}

func putBatch(b *lpBatch) {
	if b.rows > maxPooledRows || len(b.byName) > 64 {
		return
	}
	batchPool.Put(b)
}

// lineError is a problem with one line of the body; entry is the 1-based
// index of the entry (line counting is done only when reporting it).
type lineError struct {
	entry int
	line  int // 0: not yet known
	msg   string
}

func (e *lineError) Error() string { return e.msg }

// errAt is a lineError at a place recorded as the decoders do: a line
// number (> 0, the fast decoder) or minus an entry number (the library's).
func errAt(at int, msg string) *lineError {
	if at > 0 {
		return &lineError{line: at, msg: msg}
	}
	return &lineError{entry: -at, msg: msg}
}

// decode parses every line of body into b. It stops at the first bad line.
func (b *lpBatch) decode(body []byte) error {
	dec := lp.NewDecoderWithBytes(body)
	entry := 0
	for dec.Next() {
		entry++
		if err := b.decodeLine(dec, entry); err != nil {
			var de *lp.DecodeError
			if errors.As(err, &de) {
				return &lineError{entry: entry, line: int(de.Line), msg: de.Err.Error()}
			}
			return &lineError{entry: entry, msg: err.Error()}
		}
	}
	return nil
}

func (b *lpBatch) decodeLine(dec *lp.Decoder, entry int) error {
	m, err := dec.Measurement()
	if err != nil {
		return err
	}
	t, err := b.table(m, -entry)
	if err != nil {
		return err
	}
	row := t.n
	pos := 0
	for {
		k, v, err := dec.NextTag()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		c, err := t.column(pos, k, true, 0, -entry)
		if err != nil {
			return err
		}
		if _, err := c.addTag(row, v); err != nil {
			return err
		}
		pos++
	}
	fields := 0
	for {
		k, v, err := dec.NextField()
		if err != nil {
			return err
		}
		if k == nil {
			break
		}
		c, err := t.column(pos, k, false, v.Kind(), -entry)
		if err != nil {
			return err
		}
		if err := c.addField(row, v); err != nil {
			return err
		}
		pos++
		fields++
	}
	if fields == 0 {
		return errors.New("no fields")
	}
	tb, err := dec.TimeBytes()
	if err != nil {
		return err
	}
	ts := b.now
	if tb != nil {
		if ts, err = parseTime(tb, b.mul); err != nil {
			return err
		}
	}
	t.time = append(t.time, ts)
	t.n++
	b.rows++
	return nil
}

// parseTime parses an integer timestamp and scales it to ns.
func parseTime(s []byte, mul int64) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	d := s
	if neg {
		d = s[1:]
	}
	if len(d) == 0 || len(d) > 19 {
		return 0, fmt.Errorf("invalid timestamp %q", s)
	}
	var u uint64
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid timestamp %q", s)
		}
		u = u*10 + uint64(c-'0')
	}
	if u > math.MaxInt64 {
		return 0, fmt.Errorf("timestamp %q out of range", s)
	}
	v := int64(u)
	if neg {
		v = -v
	}
	if v > math.MaxInt64/mul || v < math.MinInt64/mul {
		return 0, fmt.Errorf("timestamp %q out of range at this precision", s)
	}
	return v * mul, nil
}

// table returns the measurement's table, set up for this request.
func (b *lpBatch) table(m []byte, at int) (*lpTable, error) {
	if t := b.last; t != nil && string(m) == t.name {
		return t, nil
	}
	t := b.byName[string(m)]
	if t == nil {
		name := string(m)
		if err := engine.ValidName("measurement", name); err != nil {
			return nil, err
		}
		t = &lpTable{name: name, byName: map[string]*lpCol{}}
		b.byName[name] = t
	}
	if t.gen != b.gen {
		t.gen, t.n, t.line = b.gen, 0, at
		t.time, t.cols, t.order = t.time[:0], t.cols[:0], t.order[:0]
		if t.series == nil {
			t.series = map[string]int32{}
		}
		clear(t.series)
		t.sref, t.sstart = t.sref[:0], append(t.sstart[:0], 0)
		b.tables = append(b.tables, t)
	}
	b.last = t
	return t, nil
}

func fieldType(k lp.ValueKind) arrowstore.FieldType {
	switch k {
	case lp.Float:
		return arrowstore.TypeFloat
	case lp.Int, lp.Uint:
		return arrowstore.TypeInt
	case lp.Bool:
		return arrowstore.TypeBool
	}
	return arrowstore.TypeString
}

func influxType(t arrowstore.FieldType) string {
	switch t {
	case arrowstore.TypeFloat:
		return "float"
	case arrowstore.TypeInt:
		return "integer"
	case arrowstore.TypeBool:
		return "boolean"
	}
	return "string"
}

// column returns the column at position pos of the current line, named
// key: first by the previous line's order, then by name.
func (t *lpTable) column(pos int, key []byte, tag bool, kind lp.ValueKind, at int) (*lpCol, error) {
	var c *lpCol
	if pos < len(t.order) && string(key) == t.order[pos].name {
		c = t.order[pos]
	} else {
		c = t.byName[string(key)]
		if c == nil {
			name := string(key)
			if err := engine.ValidName("column", name); err != nil {
				return nil, err
			}
			c = &lpCol{name: name, plain: scanName(key) == len(key)}
			t.byName[name] = c
		}
		if pos < len(t.order) {
			t.order[pos] = c
		} else {
			t.order = append(t.order, c)
		}
	}
	if c.gen != t.gen {
		if err := t.start(c, tag, kind, at); err != nil {
			return nil, err
		}
	}
	if c.tag != tag {
		return nil, fmt.Errorf("%q is both a tag and a field of measurement %q", c.name, t.name)
	}
	if !tag && c.typ != fieldType(kind) {
		return nil, fmt.Errorf("field type conflict: input field %q on measurement %q is type %s, already exists as type %s",
			c.name, t.name, influxType(fieldType(kind)), influxType(c.typ))
	}
	if c.n > t.n {
		return nil, fmt.Errorf("duplicate key %q", c.name)
	}
	return c, nil
}

// start sets a column up for this request.
func (t *lpTable) start(c *lpCol, tag bool, kind lp.ValueKind, at int) error {
	if c.name == arrowstore.TimeColumn {
		return fmt.Errorf("%q cannot be a tag or field: it is the time column", c.name)
	}
	c.gen, c.tag, c.typ, c.line, c.n = t.gen, tag, fieldType(kind), at, 0
	c.valid = nil
	c.f64, c.i64, c.bools = c.f64[:0], c.i64[:0], c.bools[:0]
	c.offs, c.data, c.codes = append(c.offs[:0], 0), c.data[:0], c.codes[:0]
	if tag {
		if c.dict == nil {
			c.dict = map[string]int32{}
		}
		clear(c.dict)
	}
	t.cols = append(t.cols, c)
	return nil
}

// pad fills rows c.n … row-1 with NULL.
func (c *lpCol) pad(row int) {
	if c.valid == nil {
		c.valid = make([]byte, c.n, max(2*row, 64))
		for i := range c.valid {
			c.valid[i] = 1
		}
	}
	for ; c.n < row; c.n++ {
		c.valid = append(c.valid, 0)
		switch {
		case c.tag:
			c.codes = append(c.codes, 0)
		case c.typ == arrowstore.TypeFloat:
			c.f64 = append(c.f64, 0)
		case c.typ == arrowstore.TypeInt:
			c.i64 = append(c.i64, 0)
		case c.typ == arrowstore.TypeBool:
			c.bools = append(c.bools, 0)
		default:
			c.offs = append(c.offs, int32(len(c.data)))
		}
	}
}

// filled records that row has a value.
func (c *lpCol) filled(row int) {
	if c.valid != nil {
		c.valid = append(c.valid, 1)
	}
	c.n = row + 1
}

func (c *lpCol) addTag(row int, v []byte) (int32, error) {
	if c.n < row {
		c.pad(row)
	}
	code, ok := c.dict[string(v)]
	if !ok {
		if len(c.data)+len(v) > math.MaxInt32 {
			return 0, errors.New("too much tag text in one request")
		}
		code = int32(len(c.dict))
		c.dict[string(v)] = code
		c.data = append(c.data, v...)
		c.offs = append(c.offs, int32(len(c.data)))
	}
	c.codes = append(c.codes, code)
	c.filled(row)
	return code, nil
}

// addCode appends a tag value by its dictionary code.
func (c *lpCol) addCode(row int, code int32) {
	if c.n < row {
		c.pad(row)
	}
	c.codes = append(c.codes, code)
	c.filled(row)
}

func (c *lpCol) addField(row int, v lp.Value) error {
	switch v.Kind() {
	case lp.Float:
		c.addFloat(row, v.FloatV())
	case lp.Int:
		c.addInt(row, v.IntV())
	case lp.Uint:
		u := v.UintV()
		if u > math.MaxInt64 {
			return fmt.Errorf("field %q: unsigned value %d does not fit in bigint (at most %d)", c.name, u, int64(math.MaxInt64))
		}
		c.addInt(row, int64(u))
	case lp.Bool:
		c.addBool(row, v.BoolV())
	default:
		s := v.BytesV()
		if len(c.data)+len(s) > math.MaxInt32 {
			return errors.New("too much string field text in one request")
		}
		c.addString(row, s)
	}
	return nil
}

func (c *lpCol) addFloat(row int, x float64) {
	if c.n < row {
		c.pad(row)
	}
	c.f64 = append(c.f64, x)
	c.filled(row)
}

func (c *lpCol) addInt(row int, x int64) {
	if c.n < row {
		c.pad(row)
	}
	c.i64 = append(c.i64, x)
	c.filled(row)
}

func (c *lpCol) addBool(row int, x bool) {
	if c.n < row {
		c.pad(row)
	}
	b := byte(0)
	if x {
		b = 1
	}
	c.bools = append(c.bools, b)
	c.filled(row)
}

// addString appends a text value; the request body bounds its size far
// below 2 GiB (MaxBodyBytes), so int32 offsets hold.
func (c *lpCol) addString(row int, s []byte) {
	if c.n < row {
		c.pad(row)
	}
	c.data = append(c.data, s...)
	c.offs = append(c.offs, int32(len(c.data)))
	c.filled(row)
}

// record builds the table's rows as an Arrow record over the batch's
// buffers (valid until the batch is reused): time, tags as
// dictionary<int32, utf8>, fields typed; MetaKind on every column.
func (t *lpTable) record() arrow.RecordBatch {
	n := t.n
	fields := make([]arrow.Field, 0, 1+len(t.cols))
	cols := make([]arrow.Array, 0, 1+len(t.cols))
	fields = append(fields, arrow.Field{Name: arrowstore.TimeColumn, Type: arrowstore.TimeType,
		Metadata: arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{"time"})})
	cols = append(cols, array.NewTimestampData(array.NewData(arrowstore.TimeType, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(t.time[:n]))}, nil, 0, 0)))
	tagMeta := arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{"tag"})
	fieldMeta := arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{"field"})
	for _, c := range t.cols {
		if c.n < n {
			c.pad(n)
		}
		validity, nulls := c.bitmap(n)
		var a arrow.Array
		if c.tag {
			dict := array.NewStringData(array.NewData(arrow.BinaryTypes.String, len(c.offs)-1,
				[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offs)), memory.NewBufferBytes(c.data)}, nil, 0, 0))
			data := array.NewData(arrowstore.TagType, n,
				[]*memory.Buffer{validity, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.codes[:n]))}, nil, nulls, 0)
			data.SetDictionary(dict.Data())
			a = array.NewDictionaryData(data)
			dict.Release()
			fields = append(fields, arrow.Field{Name: c.name, Type: arrowstore.TagType, Nullable: true, Metadata: tagMeta})
			cols = append(cols, a)
			continue
		}
		dt := c.typ.ArrowType()
		var vals *memory.Buffer
		var extra *memory.Buffer
		switch c.typ {
		case arrowstore.TypeFloat:
			vals = memory.NewBufferBytes(arrow.Float64Traits.CastToBytes(c.f64[:n]))
		case arrowstore.TypeInt:
			vals = memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(c.i64[:n]))
		case arrowstore.TypeBool:
			bm := make([]byte, bitutil.BytesForBits(int64(n)))
			for i, v := range c.bools[:n] {
				if v != 0 {
					bitutil.SetBit(bm, i)
				}
			}
			vals = memory.NewBufferBytes(bm)
		default:
			vals = memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(c.offs[:n+1]))
			extra = memory.NewBufferBytes(c.data)
		}
		bufs := []*memory.Buffer{validity, vals}
		if extra != nil {
			bufs = append(bufs, extra)
		}
		data := array.NewData(dt, n, bufs, nil, nulls, 0)
		a = array.MakeFromData(data)
		data.Release()
		fields = append(fields, arrow.Field{Name: c.name, Type: dt, Nullable: true, Metadata: fieldMeta})
		cols = append(cols, a)
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n))
	for _, a := range cols {
		a.Release()
	}
	return rec
}

// bitmap packs the column's validity (nil when every row has a value).
func (c *lpCol) bitmap(n int) (*memory.Buffer, int) {
	if c.valid == nil {
		return nil, 0
	}
	bm := make([]byte, bitutil.BytesForBits(int64(n)))
	nulls := 0
	for i, v := range c.valid[:n] {
		if v != 0 {
			bitutil.SetBit(bm, i)
		} else {
			nulls++
		}
	}
	if nulls == 0 {
		return nil, 0
	}
	return memory.NewBufferBytes(bm), nulls
}

// oneByte hands out one byte per Read, so that a Decoder over it has read
// exactly up to where it stands.
type oneByte struct {
	b   []byte
	off int
}

func (r *oneByte) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[r.off]
	r.off++
	return 1, nil
}

// entryLine returns the 1-based line number on which entry (1-based)
// begins, with the library's own idea of where entries are (comments,
// blank lines, strings with newlines). Only for error reports: it reads a
// byte at a time.
func entryLine(body []byte, entry int) int {
	r := &oneByte{b: body}
	dec := lp.NewDecoder(r)
	for i := 0; i < entry; i++ {
		if !dec.Next() {
			break
		}
	}
	// The decoder has read the first byte of the entry.
	return 1 + bytes.Count(body[:max(r.off-1, 0)], []byte{'\n'})
}

// lineText returns line (1-based) of body, shortened for an error message.
func lineText(body []byte, line int) string {
	for i := 1; i < line; i++ {
		j := bytes.IndexByte(body, '\n')
		if j < 0 {
			return ""
		}
		body = body[j+1:]
	}
	if j := bytes.IndexByte(body, '\n'); j >= 0 {
		body = body[:j]
	}
	body = bytes.TrimSuffix(body, []byte{'\r'})
	const maxLen = 200
	if len(body) > maxLen {
		return string(body[:maxLen]) + "…"
	}
	return string(body)
}
