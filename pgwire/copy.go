package pgwire

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgproto3"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/engine"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// COPY … FROM STDIN is the bulk ingest path: rows arrive in CopyData
// messages as text, CSV or binary, are parsed into Arrow columns of the
// table's types and written with the record write path. The rows of one
// COPY are buffered and written when CopyDone arrives, so a bad row
// stores nothing; past copyBufferBytes of parsed data the buffer is
// written early (a later error then leaves the earlier rows stored).

const (
	copyBatchRows   = 1 << 16
	copyBufferBytes = 256 << 20
)

// copyOptions are COPY's WITH options.
type copyOptions struct {
	format    string // text, csv, binary
	header    bool
	delim     byte
	null      string
	quote     byte
	escape    byte
	hasNull   bool
	forceNull map[string]bool
}

func parseCopyOptions(opts []*pg.Node) (copyOptions, error) {
	o := copyOptions{format: "text"}
	var delim, quote, escape *string
	for _, n := range opts {
		d := n.GetDefElem()
		name := strings.ToLower(d.GetDefname())
		val := ""
		switch {
		case d.GetArg() == nil:
		case d.GetArg().GetString_() != nil:
			val = d.GetArg().GetString_().GetSval()
		case d.GetArg().GetBoolean() != nil:
			val = strconv.FormatBool(d.GetArg().GetBoolean().GetBoolval())
		case d.GetArg().GetInteger() != nil:
			val = strconv.Itoa(int(d.GetArg().GetInteger().GetIval()))
		case d.GetArg().GetList() != nil:
			// FORCE_NULL (cols) / FORCE_NOT_NULL (cols)
			if name == "force_null" {
				o.forceNull = map[string]bool{}
				for _, it := range d.GetArg().GetList().GetItems() {
					o.forceNull[it.GetString_().GetSval()] = true
				}
				continue
			}
			if name == "force_not_null" || name == "force_quote" {
				continue
			}
		}
		switch name {
		case "format":
			o.format = strings.ToLower(val)
			if o.format != "text" && o.format != "csv" && o.format != "binary" {
				return o, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "COPY format %q not recognized", val)
			}
		case "header":
			switch strings.ToLower(val) {
			case "", "true", "on", "1", "match":
				o.header = true
			case "false", "off", "0":
			default:
				return o, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "header requires a Boolean value or \"match\"")
			}
		case "delimiter":
			delim = &val
		case "null":
			o.null, o.hasNull = val, true
		case "quote":
			quote = &val
		case "escape":
			escape = &val
		case "encoding":
			if u := strings.ToUpper(strings.ReplaceAll(val, "-", "")); u != "UTF8" && u != "UNICODE" && u != "SQL_ASCII" {
				return o, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "COPY encoding %q is not supported; ugnos reads UTF8", val)
			}
		case "freeze", "force_not_null", "force_quote", "force_null":
		default:
			return o, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "option %q not recognized", name)
		}
	}
	single := func(s *string, what string, def byte) (byte, error) {
		if s == nil {
			return def, nil
		}
		if len(*s) != 1 {
			return 0, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "COPY %s must be a single one-byte character", what)
		}
		return (*s)[0], nil
	}
	var err error
	defDelim := byte('\t')
	if o.format == "csv" {
		defDelim = ','
	}
	if o.delim, err = single(delim, "delimiter", defDelim); err != nil {
		return o, err
	}
	if o.quote, err = single(quote, "quote", '"'); err != nil {
		return o, err
	}
	if o.escape, err = single(escape, "escape", o.quote); err != nil {
		return o, err
	}
	if !o.hasNull {
		if o.format == "csv" {
			o.null = ""
		} else {
			o.null = `\N`
		}
	}
	if o.format == "binary" && (delim != nil || o.hasNull || o.header) {
		return o, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "cannot specify DELIMITER, NULL or HEADER in BINARY mode")
	}
	return o, nil
}

// copyStmt runs COPY: FROM STDIN or TO STDOUT.
func (c *conn) copyStmt(ctx context.Context, st *pg.CopyStmt) (*result, error) {
	if st.GetFilename() != "" || st.GetIsProgram() {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeInsufficientPriv, "COPY to or from a file or program is not allowed; use STDIN or STDOUT (psql's \\copy)")
	}
	opts, err := parseCopyOptions(st.GetOptions())
	if err != nil {
		return nil, err
	}
	if st.GetWhereClause() != nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "COPY FROM … WHERE is not supported")
	}
	var names []string
	for _, a := range st.GetAttlist() {
		names = append(names, a.GetString_().GetSval())
	}
	if st.GetIsFrom() {
		return c.copyIn(ctx, st.GetRelation().GetRelname(), names, opts)
	}
	return c.copyOut(ctx, st, names, opts)
}

// copyTarget is one column COPY FROM fills.
type copyTarget struct {
	col   arrowstore.Column
	t     functions.Type
	force bool // FORCE_NULL: a quoted null string is NULL too
}

func (c *conn) copyIn(ctx context.Context, table string, names []string, opts copyOptions) (*result, error) {
	if err := c.srv.db.AuthorizeTable(ctx, c.tenant, table, ugnos.PrivInsert); err != nil {
		return nil, err
	}
	cols, err := c.srv.db.Columns(c.tenant, table)
	if err != nil {
		return nil, err
	}
	picked, err := ugnos.TargetColumns(cols, table, names)
	if err != nil {
		return nil, err
	}
	targets := make([]copyTarget, len(picked))
	for i, col := range picked {
		targets[i] = copyTarget{col: col, t: ugnos.ColumnType(col), force: opts.forceNull[col.Name]}
	}
	hasTime := false
	for _, t := range targets {
		hasTime = hasTime || t.col.Kind == arrowstore.KindTime
	}
	if !hasTime {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "null value in column \"time\" of relation %q violates not-null constraint", table)
	}
	format := int16(0)
	if opts.format == "binary" {
		format = 1
	}
	colFormats := make([]uint16, len(targets))
	for i := range colFormats {
		colFormats[i] = uint16(format)
	}
	c.be.Send(&pgproto3.CopyInResponse{OverallFormat: byte(format), ColumnFormatCodes: colFormats})
	if err := c.be.Flush(); err != nil {
		return nil, err
	}
	in := newCopyReader(c, opts, targets, table)
	n, err := in.run(ctx)
	if err != nil {
		return nil, err
	}
	return &result{verb: "COPY " + strconv.FormatInt(n, 10)}, nil
}

// csvRecordEnd finds the newline ending a CSV record (outside quotes), or
// -1 when the record is not complete.
func csvRecordEnd(b []byte, quote, escape byte) int {
	in := false
	for i := 0; i < len(b); i++ {
		ch := b[i]
		switch {
		case in && ch == escape && escape != quote && i+1 < len(b):
			i++
		case ch == quote:
			if in && escape == quote && i+1 < len(b) && b[i+1] == quote {
				i++
				continue
			}
			in = !in
		case ch == '\n' && !in:
			return i
		}
	}
	return -1
}

// unescapeText decodes COPY text escapes (\t \n \\ \N handled by the
// caller, octal \123, hex \x41).
func unescapeText(f []byte) ([]byte, error) {
	out := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		if f[i] != '\\' || i+1 == len(f) {
			out = append(out, f[i])
			continue
		}
		i++
		switch c := f[i]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, '\v')
		case 'x':
			v, n := 0, 0
			for n < 2 && i+1 < len(f) && isHex(f[i+1]) {
				i++
				v = v*16 + hexVal(f[i])
				n++
			}
			if n == 0 {
				out = append(out, 'x')
				continue
			}
			out = append(out, byte(v))
		default:
			if c >= '0' && c <= '7' {
				v, n := 0, 0
				i--
				for n < 3 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7' {
					i++
					v = v*8 + int(f[i]-'0')
					n++
				}
				out = append(out, byte(v))
				continue
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func hexVal(c byte) int {
	switch {
	case c >= 'a':
		return int(c-'a') + 10
	case c >= 'A':
		return int(c-'A') + 10
	}
	return int(c - '0')
}

func nilIfNull(f []byte, null string) []byte {
	if string(f) == null {
		return nil
	}
	return f
}

// copyBatch builds the Arrow columns of up to copyBatchRows rows.
type copyBatch struct {
	targets []copyTarget
	rows    int
	hint    int // rows expected, for the first allocation
	times   []int64
	floats  [][]float64
	ints    [][]int64
	bools   [][]bool
	strs    [][]string
	nulls   [][]int // row numbers of NULLs per column
	dicts   []map[string]int32
	codes   [][]int32
	dictVal [][]string
	lastTag []int32 // per tag column: the code of the previous row's value, -1 none
	// the previous row's time field and its value (rows of one instant
	// arrive together)
	lastTime []byte
	lastNS   int64
}

func newCopyBatch(targets []copyTarget) *copyBatch {
	n := len(targets)
	b := &copyBatch{targets: targets, floats: make([][]float64, n), ints: make([][]int64, n), bools: make([][]bool, n),
		strs: make([][]string, n), nulls: make([][]int, n), dicts: make([]map[string]int32, n), codes: make([][]int32, n), dictVal: make([][]string, n),
		lastTag: make([]int32, n)}
	b.reset()
	return b
}

// reset starts a new batch. The arrays of a finished batch keep their
// slices, so each batch allocates its own: sized by the hint (rows
// expected), for a full batch once one has filled, else for 1,024 rows
// (small COPYs stay small).
func (b *copyBatch) reset() {
	size := 1024
	if b.rows >= copyBatchRows {
		size = copyBatchRows
	} else if b.hint > 0 {
		size = min(b.hint, copyBatchRows)
	}
	b.rows = 0
	b.times = make([]int64, 0, size)
	for i, t := range b.targets {
		b.floats[i], b.ints[i], b.bools[i], b.strs[i], b.nulls[i] = nil, nil, nil, nil, nil
		b.dicts[i], b.codes[i], b.dictVal[i], b.lastTag[i] = map[string]int32{}, nil, nil, -1
		switch {
		case t.col.Kind == arrowstore.KindTime:
		case t.col.Kind == arrowstore.KindTag:
			b.codes[i] = make([]int32, 0, size)
		case t.t == functions.TFloat:
			b.floats[i] = make([]float64, 0, size)
		case t.t == functions.TInt:
			b.ints[i] = make([]int64, 0, size)
		}
	}
}

// parseSlow parses a field the fast path refused with the SQL literal
// parser (spaces, NaN, Infinity; its errors for the rest).
func parseSlow[T any](f []byte, t functions.Type) (T, error) {
	v, err := functions.ParseText(string(f), t)
	if err != nil {
		var zero T
		return zero, err
	}
	return v.(T), nil
}

// bstr views bytes as a string without copying (for parsing only).
func bstr(f []byte) string { return unsafe.String(unsafe.SliceData(f), len(f)) }

var errNullTime = errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "null value in column \"time\" violates not-null constraint")

// add appends a text field (nil: NULL) to column i.
func (b *copyBatch) add(i int, f []byte) error {
	t := &b.targets[i]
	if f == nil {
		if t.col.Kind == arrowstore.KindTime {
			return errNullTime
		}
		b.nulls[i] = append(b.nulls[i], b.rows)
		b.appendZero(i)
		return nil
	}
	switch {
	case t.col.Kind == arrowstore.KindTime:
		if !bytes.Equal(f, b.lastTime) || b.lastTime == nil {
			ns, err := parseCopyTime(f)
			if err != nil {
				return err
			}
			b.lastTime, b.lastNS = append(b.lastTime[:0], f...), ns
		}
		b.times = append(b.times, b.lastNS)
	case t.col.Kind == arrowstore.KindTag:
		return b.appendTag(i, f)
	case t.t == functions.TFloat:
		x, ok := fastFloat(f)
		if !ok {
			var err error
			if x, err = strconv.ParseFloat(bstr(f), 64); err != nil {
				if x, err = parseSlow[float64](f, functions.TFloat); err != nil {
					return err
				}
			}
		}
		b.floats[i] = append(b.floats[i], x)
	case t.t == functions.TInt:
		x, err := strconv.ParseInt(bstr(f), 10, 64)
		if err != nil {
			if x, err = parseSlow[int64](f, functions.TInt); err != nil {
				return err
			}
		}
		b.ints[i] = append(b.ints[i], x)
	case t.t == functions.TBool:
		v, err := functions.ParseText(bstr(f), functions.TBool)
		if err != nil {
			return err
		}
		b.bools[i] = append(b.bools[i], v.(bool))
	default:
		if err := engine.CheckText("column", t.col.Name, bstr(f), arrowstore.MaxTextLen); err != nil {
			return err
		}
		b.strs[i] = append(b.strs[i], string(f))
	}
	return nil
}

// appendTag appends a tag value. Values are checked here, as text fields
// are in add, and not only when the engine writes the batch's records:
// one COPY gives several records, and a record refused after another
// was written would break the COPY's all-or-nothing.
func (b *copyBatch) appendTag(i int, f []byte) error {
	if last := b.lastTag[i]; last >= 0 && b.dictVal[i][last] == bstr(f) {
		b.codes[i] = append(b.codes[i], last)
		return nil
	}
	code, ok := b.dicts[i][bstr(f)]
	if !ok {
		if err := engine.CheckText("tag", b.targets[i].col.Name, bstr(f), arrowstore.MaxTagValueLen); err != nil {
			return err
		}
		s := string(f)
		code = int32(len(b.dictVal[i]))
		b.dicts[i][s] = code
		b.dictVal[i] = append(b.dictVal[i], s)
	}
	b.lastTag[i] = code
	b.codes[i] = append(b.codes[i], code)
	return nil
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat parses a plain decimal ([-+]digits[.digits]) of at most 15
// significant digits: the digits and the power of ten are exact in a
// float64, so one correctly rounded division gives the correctly rounded
// value (Clinger's fast path). Anything else is refused.
func fastFloat(f []byte) (float64, bool) {
	i, neg := 0, false
	if len(f) > 0 && (f[0] == '-' || f[0] == '+') {
		neg, i = f[0] == '-', 1
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	start := i
	for ; i < len(f); i++ {
		c := f[i]
		if c >= '0' && c <= '9' {
			if mant == 0 && c == '0' {
				if dot {
					frac++ // leading zeros after the point count as places only
				}
				continue
			}
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
			continue
		}
		if c == '.' && !dot {
			dot = true
			continue
		}
		return 0, false
	}
	if i == start || digits > 15 || frac >= len(pow10) || (dot && i == start+1) {
		return 0, false
	}
	x := float64(mant) / pow10[frac]
	if neg {
		x = -x
	}
	return x, true
}

func (b *copyBatch) appendZero(i int) {
	t := &b.targets[i]
	switch {
	case t.col.Kind == arrowstore.KindTag:
		b.codes[i] = append(b.codes[i], 0)
	case t.t == functions.TFloat:
		b.floats[i] = append(b.floats[i], 0)
	case t.t == functions.TInt:
		b.ints[i] = append(b.ints[i], 0)
	case t.t == functions.TBool:
		b.bools[i] = append(b.bools[i], false)
	default:
		b.strs[i] = append(b.strs[i], "")
	}
}

// addBinary appends a binary field (PostgreSQL's send format of the
// column's type; nil: NULL).
func (b *copyBatch) addBinary(i int, f []byte) error {
	t := &b.targets[i]
	if f == nil {
		return b.add(i, nil)
	}
	bad := func(what string) error {
		return errs.New(errs.ErrInvalidInput, "22P03", "incorrect binary data format (%d bytes for %s)", len(f), what)
	}
	switch {
	case t.col.Kind == arrowstore.KindTime:
		if len(f) != 8 {
			return bad("timestamp with time zone")
		}
		us := int64(binary.BigEndian.Uint64(f)) + pgEpochUnixMicros
		if us > math.MaxInt64/1000 || us < math.MinInt64/1000 {
			return errs.New(errs.ErrInvalidInput, "22008", "timestamp out of range")
		}
		b.times = append(b.times, us*1000)
	case t.col.Kind == arrowstore.KindTag:
		return b.appendTag(i, f)
	case t.t == functions.TFloat:
		switch len(f) {
		case 8:
			b.floats[i] = append(b.floats[i], math.Float64frombits(binary.BigEndian.Uint64(f)))
		case 4:
			b.floats[i] = append(b.floats[i], float64(math.Float32frombits(binary.BigEndian.Uint32(f))))
		default:
			return bad("double precision")
		}
	case t.t == functions.TInt:
		switch len(f) {
		case 8:
			b.ints[i] = append(b.ints[i], int64(binary.BigEndian.Uint64(f)))
		case 4:
			b.ints[i] = append(b.ints[i], int64(int32(binary.BigEndian.Uint32(f))))
		case 2:
			b.ints[i] = append(b.ints[i], int64(int16(binary.BigEndian.Uint16(f))))
		default:
			return bad("bigint")
		}
	case t.t == functions.TBool:
		if len(f) != 1 {
			return bad("boolean")
		}
		b.bools[i] = append(b.bools[i], f[0] != 0)
	default:
		if err := engine.CheckText("column", t.col.Name, bstr(f), arrowstore.MaxTextLen); err != nil {
			return err
		}
		b.strs[i] = append(b.strs[i], string(f))
	}
	return nil
}

// record builds the batch's record and resets the batch.
func (b *copyBatch) record() arrow.RecordBatch {
	n := b.rows
	fields := make([]arrow.Field, len(b.targets))
	arrs := make([]arrow.Array, len(b.targets))
	for i, t := range b.targets {
		var valid *functions.Valid
		if len(b.nulls[i]) > 0 {
			valid = functions.NewValid(n)
			for _, r := range b.nulls[i] {
				valid.SetNull(r)
			}
		}
		kind := t.col.Kind.String()
		switch {
		case t.col.Kind == arrowstore.KindTime:
			arrs[i] = functions.NewTimestamp(b.times, nil)
		case t.col.Kind == arrowstore.KindTag:
			arrs[i] = dictArray(b.codes[i], b.dictVal[i], b.nulls[i])
		case t.t == functions.TFloat:
			arrs[i] = functions.NewFloat(b.floats[i], valid)
		case t.t == functions.TInt:
			arrs[i] = functions.NewInt(b.ints[i], valid)
		case t.t == functions.TBool:
			arrs[i] = functions.NewBool(b.bools[i], valid)
		default:
			arrs[i] = functions.NewText(b.strs[i], valid)
		}
		fields[i] = arrow.Field{Name: t.col.Name, Type: arrs[i].DataType(), Nullable: true,
			Metadata: arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{kind})}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(n))
	for _, a := range arrs {
		a.Release()
	}
	b.reset()
	return rec
}

// dictArray builds a dictionary<int32, string> array; nulls are the
// NULL rows.
func dictArray(codes []int32, values []string, nulls []int) arrow.Array {
	if len(values) == 0 {
		values = []string{""}
	}
	dict := functions.NewText(values, nil)
	defer dict.Release()
	ib := array.NewInt32Builder(memory.DefaultAllocator)
	defer ib.Release()
	var ok []bool
	if len(nulls) > 0 {
		ok = make([]bool, len(codes))
		for i := range ok {
			ok[i] = true
		}
		for _, r := range nulls {
			ok[r] = false
		}
	}
	ib.AppendValues(codes, ok)
	indices := ib.NewArray()
	defer indices.Release()
	dt := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	return array.NewDictionaryArray(dt, indices, dict)
}

// parseCopyTime parses a timestamptz field: RFC 3339 and PostgreSQL's
// output form quickly, anything else through the SQL literal parser.
func parseCopyTime(f []byte) (int64, error) {
	if ns, ok := fastTime(f); ok {
		return ns, nil
	}
	return functions.ParseTimestamp(string(f))
}

// fastTime parses YYYY-MM-DD[T ]HH:MM:SS[.frac](Z|±HH[:MM]).
func fastTime(f []byte) (int64, bool) {
	if len(f) < 20 || f[4] != '-' || f[7] != '-' || (f[10] != 'T' && f[10] != ' ') || f[13] != ':' || f[16] != ':' {
		return 0, false
	}
	num := func(b []byte) (int, bool) {
		v := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(f[0:4])
	mo, ok2 := num(f[5:7])
	d, ok3 := num(f[8:10])
	h, ok4 := num(f[11:13])
	mi, ok5 := num(f[14:16])
	s, ok6 := num(f[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 || y < 1678 || y > 2261 {
		return 0, false
	}
	p := 19
	frac := 0
	if p < len(f) && f[p] == '.' {
		p++
		digits := 0
		for p < len(f) && f[p] >= '0' && f[p] <= '9' {
			if digits < 9 {
				frac = frac*10 + int(f[p]-'0')
				digits++
			}
			p++
		}
		for ; digits < 9; digits++ {
			frac *= 10
		}
	}
	off := 0
	switch {
	case p < len(f) && f[p] == 'Z' && p+1 == len(f):
	case p+3 <= len(f) && (f[p] == '+' || f[p] == '-'):
		oh, ok := num(f[p+1 : p+3])
		if !ok {
			return 0, false
		}
		om := 0
		rest := f[p+3:]
		if len(rest) == 3 && rest[0] == ':' {
			if om, ok = num(rest[1:]); !ok {
				return 0, false
			}
		} else if len(rest) != 0 {
			return 0, false
		}
		off = oh*3600 + om*60
		if f[p] == '-' {
			off = -off
		}
	default:
		return 0, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, frac, time.UTC)
	if t.Day() != d {
		return 0, false // Feb 30 and the like: the slow path reports it
	}
	return t.UnixNano() - int64(off)*1e9, true
}

// parseTreeVersion is the parser's tree version, which Deparse checks.
var parseTreeVersion = func() int32 {
	r, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return r.Version
}()

// copyOut runs COPY table/query TO STDOUT.
func (c *conn) copyOut(ctx context.Context, st *pg.CopyStmt, names []string, opts copyOptions) (*result, error) {
	var query string
	switch {
	case st.GetQuery() != nil:
		q, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion, Stmts: []*pg.RawStmt{{Stmt: st.GetQuery()}}})
		if err != nil {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "COPY (query): %v", err)
		}
		query = q
		if len(names) > 0 {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "COPY (query) with a column list")
		}
	default:
		cols := "*"
		if len(names) > 0 {
			quoted := make([]string, len(names))
			for i, n := range names {
				quoted[i] = `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
			}
			cols = strings.Join(quoted, ", ")
		}
		query = "SELECT " + cols + ` FROM "` + strings.ReplaceAll(st.GetRelation().GetRelname(), `"`, `""`) + `"`
	}
	res, err := c.srv.db.Exec(ctx, c.tenant, query)
	if err != nil {
		return nil, err
	}
	if res.Rows == nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "COPY of a statement without rows")
	}
	rd := res.Rows
	defer rd.Release()
	schema := rd.Schema()
	format := byte(0)
	if opts.format == "binary" {
		format = 1
	}
	colFormats := make([]uint16, schema.NumFields())
	for i := range colFormats {
		colFormats[i] = uint16(format)
	}
	c.be.Send(&pgproto3.CopyOutResponse{OverallFormat: format, ColumnFormatCodes: colFormats})
	enc := c.sess.encoder(c.types)
	var buf []byte
	if opts.format == "binary" {
		buf = append(buf, binarySignature...)
		buf = binary.BigEndian.AppendUint32(buf, 0)
		buf = binary.BigEndian.AppendUint32(buf, 0)
	}
	if opts.header && opts.format == "csv" {
		for i, f := range schema.Fields() {
			if i > 0 {
				buf = append(buf, opts.delim)
			}
			buf = appendCSV(buf, []byte(f.Name), opts)
		}
		buf = append(buf, '\n')
	}
	var n int64
	var val []byte
	for rd.Next() {
		rec := rd.RecordBatch()
		cols, err := columnsOf(rec, []int16{int16(format)})
		if err != nil {
			return nil, err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			if opts.format == "binary" {
				buf = binary.BigEndian.AppendUint16(buf, uint16(len(cols)))
			}
			for k := range cols {
				null := cols[k].vec.IsNull(i)
				switch opts.format {
				case "binary":
					if null {
						buf = binary.BigEndian.AppendUint32(buf, math.MaxUint32)
						continue
					}
					val = enc.appendValue(val[:0], &cols[k], i)
					buf = binary.BigEndian.AppendUint32(buf, uint32(len(val)))
					buf = append(buf, val...)
				case "csv":
					if k > 0 {
						buf = append(buf, opts.delim)
					}
					if null {
						buf = append(buf, opts.null...)
						continue
					}
					val = enc.appendValue(val[:0], &cols[k], i)
					buf = appendCSV(buf, val, opts)
				default:
					if k > 0 {
						buf = append(buf, opts.delim)
					}
					if null {
						buf = append(buf, opts.null...)
						continue
					}
					val = enc.appendValue(val[:0], &cols[k], i)
					buf = appendTextEscaped(buf, val, opts.delim)
				}
			}
			if opts.format != "binary" {
				buf = append(buf, '\n')
			}
			n++
			if len(buf) >= 64<<10 {
				c.be.Send(&pgproto3.CopyData{Data: buf})
				buf = buf[:0]
				if err := c.be.Flush(); err != nil {
					return nil, err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if err := rd.Err(); err != nil {
		return nil, err
	}
	if opts.format == "binary" {
		buf = binary.BigEndian.AppendUint16(buf, math.MaxUint16)
	}
	if len(buf) > 0 {
		c.be.Send(&pgproto3.CopyData{Data: buf})
	}
	c.be.Send(&pgproto3.CopyDone{})
	return &result{verb: "COPY " + strconv.FormatInt(n, 10)}, nil
}

// appendCSV quotes a value when it holds the delimiter, quote, a line
// break, equals the null string, or is empty (so that it is not NULL).
func appendCSV(b, v []byte, o copyOptions) []byte {
	need := len(v) == 0 || string(v) == o.null || bytes.IndexByte(v, o.delim) >= 0 || bytes.IndexByte(v, o.quote) >= 0 ||
		bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0
	if !need {
		return append(b, v...)
	}
	b = append(b, o.quote)
	for _, ch := range v {
		if ch == o.quote || ch == o.escape {
			b = append(b, o.escape)
		}
		b = append(b, ch)
	}
	return append(b, o.quote)
}

// appendTextEscaped escapes backslash, the delimiter and line breaks for
// COPY's text format.
func appendTextEscaped(b, v []byte, delim byte) []byte {
	for _, ch := range v {
		switch ch {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			if delim == '\t' {
				b = append(b, '\\', 't')
			} else {
				b = append(b, ch)
			}
		default:
			if ch == delim {
				b = append(b, '\\', ch)
			} else {
				b = append(b, ch)
			}
		}
	}
	return b
}
