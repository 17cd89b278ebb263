package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// colKind is what a CSV or Parquet column becomes in a table.
type colKind uint8

const (
	kindTag colKind = iota
	kindText
	kindFloat
	kindInt
	kindBool
	kindTime
)

var kindNames = map[string]colKind{
	"tag": kindTag, "text": kindText, "varchar": kindText,
	"float": kindFloat, "double": kindFloat, "float8": kindFloat,
	"int": kindInt, "bigint": kindInt, "int8": kindInt,
	"bool": kindBool, "boolean": kindBool,
}

// fieldMeta marks a text column as a field (text without it is a tag).
var fieldMeta = arrow.NewMetadata([]string{"ugnos.kind"}, []string{"field"})

// arrowField is the record column of a kind.
func arrowField(name string, k colKind) arrow.Field {
	switch k {
	case kindTime:
		return arrow.Field{Name: "time", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}}
	case kindText:
		return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true, Metadata: fieldMeta}
	case kindFloat:
		return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
	case kindInt:
		return arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64, Nullable: true}
	case kindBool:
		return arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean, Nullable: true}
	}
	return arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
}

// precisionUnit is the length of a unit of integer timestamps.
func precisionUnit(p string) (int64, error) {
	switch p {
	case "ns", "n":
		return 1, nil
	case "us", "u", "µs":
		return 1e3, nil
	case "ms":
		return 1e6, nil
	case "s":
		return 1e9, nil
	}
	return 0, fmt.Errorf("--precision %q: want ns, us, ms or s", p)
}

// timeLayouts are the timestamp forms a CSV cell may take; those without
// a zone are UTC.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads a timestamp as ns since the epoch.
func parseTime(s string, unit int64) (int64, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > math.MaxInt64/unit || n < math.MinInt64/unit {
			return 0, fmt.Errorf("timestamp %s out of range", s)
		}
		return n * unit, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UnixNano(), nil
		}
	}
	return 0, fmt.Errorf("invalid timestamp %q (want RFC 3339, \"2006-01-02 15:04:05+00\" or an integer)", s)
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "on", "1":
		return true, true
	case "false", "f", "no", "n", "off", "0":
		return false, true
	}
	return false, false
}

// inferSample is how many rows type inference looks at.
const inferSample = 1000

// csvSource reads a CSV file with a header row as records.
type csvSource struct {
	path    string
	f       *os.File
	cr      *countingReader
	size    int64
	r       *csv.Reader
	header  []string
	kinds   []colKind
	timeIdx int
	unit    int64
	batch   int
	schema  *arrow.Schema
	pending [][]string // rows read for inference, not yet returned
	lines   []int      // their line numbers
	bld     *array.RecordBuilder
}

func openCSVSource(path string, c *importConfig) (*csvSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	unit, _ := precisionUnit(c.precision)
	s := &csvSource{path: path, f: f, cr: &countingReader{r: f}, size: st.Size(), unit: unit, batch: c.batchRows, timeIdx: -1}
	s.r = csv.NewReader(s.cr)
	s.r.ReuseRecord = false
	if err := s.init(c); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

func (s *csvSource) errorf(line int, format string, args ...any) error {
	return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
}

// readErr gives csv's errors the file's line.
func (s *csvSource) readErr(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return s.errorf(pe.Line, "%v", pe.Err)
	}
	return err
}

// init reads the header and the inference sample and fixes the schema.
func (s *csvSource) init(c *importConfig) error {
	hdr, err := s.r.Read()
	if err == io.EOF {
		return errors.New("empty file: a header row is needed")
	}
	if err != nil {
		return s.readErr(err)
	}
	s.header = hdr
	seen := map[string]bool{}
	for i, h := range hdr {
		h = strings.TrimSpace(h)
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // a byte order mark
		}
		if h == "" {
			return s.errorf(1, "column %d has no name", i+1)
		}
		if seen[h] {
			return s.errorf(1, "column %q appears twice", h)
		}
		seen[h] = true
		hdr[i] = h
		if h == c.timeColumn {
			s.timeIdx = i
		}
	}
	if s.timeIdx < 0 {
		return s.errorf(1, "no time column %q in the header (set --time-column)", c.timeColumn)
	}
	for len(s.pending) < inferSample {
		rec, err := s.r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.readErr(err)
		}
		line, _ := s.r.FieldPos(0)
		s.pending = append(s.pending, rec)
		s.lines = append(s.lines, line)
	}
	s.kinds = make([]colKind, len(hdr))
	fields := make([]arrow.Field, len(hdr))
	for i, h := range hdr {
		k, given := c.kinds[h]
		switch {
		case i == s.timeIdx:
			k = kindTime
		case !given:
			k = s.infer(i)
		}
		s.kinds[i] = k
		fields[i] = arrowField(h, k)
	}
	for h := range c.kinds {
		if !seen[h] {
			return fmt.Errorf("--types names %q, which is not a column of the file", h)
		}
	}
	s.schema = arrow.NewSchema(fields, nil)
	s.bld = array.NewRecordBuilder(memory.DefaultAllocator, s.schema)
	return nil
}

// infer picks a column's kind from the sample: bigint if every value is
// an integer, double if a number, boolean if true/false, else a tag.
func (s *csvSource) infer(col int) colKind {
	isInt, isFloat, isBool, any := true, true, true, false
	for _, row := range s.pending {
		v := row[col]
		if v == "" {
			continue
		}
		any = true
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			isInt = false
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			isFloat = false
		}
		if b := strings.ToLower(v); b != "true" && b != "false" && b != "t" && b != "f" {
			isBool = false
		}
	}
	switch {
	case !any:
		return kindTag
	case isInt:
		return kindInt
	case isFloat:
		return kindFloat
	case isBool:
		return kindBool
	}
	return kindTag
}

func (s *csvSource) Schema() *arrow.Schema { return s.schema }

func (s *csvSource) Progress() (int64, int64) { return s.cr.n, s.size }

func (s *csvSource) Close() error {
	if s.bld != nil {
		s.bld.Release()
		s.bld = nil
	}
	return s.f.Close()
}

// Next parses up to a batch of rows into a record.
func (s *csvSource) Next() (arrow.RecordBatch, error) {
	n := 0
	for n < s.batch {
		var rec []string
		var line int
		if len(s.pending) > 0 {
			rec, line = s.pending[0], s.lines[0]
			s.pending, s.lines = s.pending[1:], s.lines[1:]
		} else {
			var err error
			rec, err = s.r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, s.readErr(err)
			}
			line, _ = s.r.FieldPos(0)
		}
		if err := s.addRow(rec, line); err != nil {
			return nil, err
		}
		n++
	}
	if n == 0 {
		return nil, io.EOF
	}
	return s.bld.NewRecordBatch(), nil
}

// addRow appends one row; a bad value is an error naming its line and
// column.
func (s *csvSource) addRow(rec []string, line int) error {
	// Check every cell before appending any, so that the builders stay
	// aligned when a row is refused.
	for i, v := range rec {
		if err := s.check(i, v); err != nil {
			return s.errorf(line, "column %q: %v", s.header[i], err)
		}
	}
	for i, v := range rec {
		b := s.bld.Field(i)
		if v == "" && s.kinds[i] != kindTime {
			b.AppendNull()
			continue
		}
		switch s.kinds[i] {
		case kindTime:
			ns, _ := parseTime(v, s.unit)
			b.(*array.TimestampBuilder).Append(arrow.Timestamp(ns))
		case kindTag, kindText:
			b.(*array.StringBuilder).Append(v)
		case kindFloat:
			f, _ := strconv.ParseFloat(v, 64)
			b.(*array.Float64Builder).Append(f)
		case kindInt:
			n, _ := strconv.ParseInt(v, 10, 64)
			b.(*array.Int64Builder).Append(n)
		case kindBool:
			t, _ := parseBool(v)
			b.(*array.BooleanBuilder).Append(t)
		}
	}
	return nil
}

func (s *csvSource) check(i int, v string) error {
	if v == "" {
		if s.kinds[i] == kindTime {
			return errors.New("empty timestamp")
		}
		return nil
	}
	switch s.kinds[i] {
	case kindTime:
		_, err := parseTime(v, s.unit)
		return err
	case kindFloat:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("invalid double precision %q", v)
		}
	case kindInt:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("invalid bigint %q (the column was inferred or declared bigint; --types %s=float reads it as double)", v, s.header[i])
		}
	case kindBool:
		if _, ok := parseBool(v); !ok {
			return fmt.Errorf("invalid boolean %q", v)
		}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// valueAt is a record cell as the Go value pgx encodes: time.Time,
// string, float64, int64, bool, or nil.
func valueAt(a arrow.Array, i int) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return a.Value(i).ToTime(unit).UTC()
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Dictionary:
		return valueAt(a.Dictionary(), a.GetValueIndex(i))
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Uint64:
		return int64(a.Value(i)) // refused above MaxInt64 by the source
	case *array.Uint32:
		return int64(a.Value(i))
	case *array.Uint16:
		return int64(a.Value(i))
	case *array.Uint8:
		return int64(a.Value(i))
	case *array.Boolean:
		return a.Value(i)
	}
	return a.ValueStr(i)
}
