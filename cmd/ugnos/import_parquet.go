package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// parquetSource reads a Parquet file record by record with pqarrow.
type parquetSource struct {
	path    string
	f       *os.File
	pf      *file.Reader
	rr      pqarrow.RecordReader
	size    int64
	total   int64 // rows in the file
	rows    int64 // rows returned so far
	timeIdx int
	unit    int64 // of an integer time column
	schema  *arrow.Schema
}

func openParquetSource(ctx context.Context, path string, c *importConfig) (*parquetSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s := &parquetSource{path: path, f: f, timeIdx: -1}
	if err := s.open(ctx, c); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *parquetSource) open(ctx context.Context, c *importConfig) error {
	st, err := s.f.Stat()
	if err != nil {
		return err
	}
	s.size = st.Size()
	if s.pf, err = file.NewParquetReader(s.f); err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	s.total = s.pf.NumRows()
	fr, err := pqarrow.NewFileReader(s.pf, pqarrow.ArrowReadProperties{BatchSize: int64(c.batchRows), Parallel: true}, memory.DefaultAllocator)
	if err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	in, err := fr.Schema()
	if err != nil {
		return fmt.Errorf("read parquet schema: %w", err)
	}
	s.unit, _ = precisionUnit(c.precision)
	fields := make([]arrow.Field, in.NumFields())
	seen := map[string]bool{}
	for i, f := range in.Fields() {
		seen[f.Name] = true
		if f.Name == c.timeColumn {
			s.timeIdx = i
			switch f.Type.ID() {
			case arrow.TIMESTAMP, arrow.INT64:
			default:
				return fmt.Errorf("time column %q is %s, not a timestamp or int64", f.Name, f.Type)
			}
			fields[i] = arrowField("time", kindTime)
			continue
		}
		if f.Name == "time" {
			return fmt.Errorf("column \"time\" is not the time column %q", c.timeColumn)
		}
		nf := arrow.Field{Name: f.Name, Type: f.Type, Nullable: true}
		k, given := c.kinds[f.Name]
		switch f.Type.ID() {
		case arrow.STRING, arrow.LARGE_STRING:
		case arrow.DICTIONARY:
			if vt := f.Type.(*arrow.DictionaryType).ValueType.ID(); vt != arrow.STRING {
				return fmt.Errorf("column %q: dictionary of %s is not supported", f.Name, f.Type.(*arrow.DictionaryType).ValueType)
			}
		case arrow.FLOAT64, arrow.FLOAT32, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
			arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.BOOL:
			if given {
				return fmt.Errorf("--types %s: a Parquet column's type is its own; only text columns take tag or text", f.Name)
			}
		default:
			return fmt.Errorf("column %q: type %s is not supported (text, numbers and booleans are)", f.Name, f.Type)
		}
		if given {
			if k != kindTag && k != kindText {
				return fmt.Errorf("--types %s: a text column is a tag or a text field", f.Name)
			}
			if k == kindText {
				nf.Metadata = fieldMeta
			}
		}
		fields[i] = nf
	}
	if s.timeIdx < 0 {
		return fmt.Errorf("no time column %q (set --time-column)", c.timeColumn)
	}
	for h := range c.kinds {
		if !seen[h] {
			return fmt.Errorf("--types names %q, which is not a column of the file", h)
		}
	}
	s.schema = arrow.NewSchema(fields, nil)
	if s.rr, err = fr.GetRecordReader(ctx, nil, nil); err != nil {
		return fmt.Errorf("read parquet: %w", err)
	}
	return nil
}

func (s *parquetSource) Schema() *arrow.Schema { return s.schema }

// Progress estimates the bytes read from the rows read.
func (s *parquetSource) Progress() (int64, int64) {
	if s.total == 0 {
		return s.size, s.size
	}
	return int64(float64(s.size) * float64(s.rows) / float64(s.total)), s.size
}

func (s *parquetSource) Close() error {
	if s.rr != nil {
		s.rr.Release()
		s.rr = nil
	}
	return s.f.Close()
}

// Next returns the next record with the file's time column as "time".
func (s *parquetSource) Next() (arrow.RecordBatch, error) {
	if !s.rr.Next() {
		if err := s.rr.Err(); err != nil && err != io.EOF {
			return nil, fmt.Errorf("read parquet: %w", err)
		}
		return nil, io.EOF
	}
	in := s.rr.RecordBatch()
	n := in.NumRows()
	cols := make([]arrow.Array, in.NumCols())
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, c := range in.Columns() {
		if i == s.timeIdx {
			if c.NullN() > 0 {
				for r := 0; r < c.Len(); r++ {
					if c.IsNull(r) {
						return nil, fmt.Errorf("row %d: time is NULL", s.rows+int64(r)+1)
					}
				}
			}
			cols[i] = s.timeColumn(c)
			continue
		}
		if u, ok := c.(*array.Uint64); ok {
			for r := 0; r < u.Len(); r++ {
				if u.IsValid(r) && u.Value(r) > math.MaxInt64 {
					return nil, fmt.Errorf("row %d: column %q: %d is out of range for bigint", s.rows+int64(r)+1, in.ColumnName(i), u.Value(r))
				}
			}
		}
		c.Retain()
		cols[i] = c
	}
	s.rows += n
	return array.NewRecordBatch(s.schema, cols, n), nil
}

// timeColumn returns the time column as timestamp[ns, UTC].
func (s *parquetSource) timeColumn(c arrow.Array) arrow.Array {
	b := array.NewTimestampBuilder(memory.DefaultAllocator, &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"})
	defer b.Release()
	b.Reserve(c.Len())
	switch c := c.(type) {
	case *array.Timestamp:
		mul := int64(1)
		switch c.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			mul = 1e9
		case arrow.Millisecond:
			mul = 1e6
		case arrow.Microsecond:
			mul = 1e3
		}
		for _, v := range c.TimestampValues() {
			b.UnsafeAppend(arrow.Timestamp(int64(v) * mul))
		}
	case *array.Int64:
		for _, v := range c.Int64Values() {
			b.UnsafeAppend(arrow.Timestamp(v * s.unit))
		}
	}
	return b.NewArray()
}
