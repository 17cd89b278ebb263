package pgcatalog

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// Build returns the rows of an emulated relation as one Arrow record with
// the named columns in that order (nil: every column). Fields carry
// MetaPGType where the column's PostgreSQL type differs from its ugnos
// type.
func Build(s *Snapshot, schema, name string, columns []string) (arrow.RecordBatch, error) {
	rows, cols, ok := Rows(s, schema, name)
	if !ok {
		return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
	}
	pick := make([]int, 0, len(cols))
	if columns == nil {
		for i := range cols {
			pick = append(pick, i)
		}
	}
	for _, c := range columns {
		j := -1
		for i, col := range cols {
			if col.Name == c {
				j = i
				break
			}
		}
		if j < 0 {
			return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q of relation \"%s.%s\" does not exist", c, schema, name)
		}
		pick = append(pick, j)
	}
	fields := make([]arrow.Field, len(pick))
	arrs := make([]arrow.Array, len(pick))
	vals := make([]any, len(rows))
	for k, j := range pick {
		fields[k] = Field(cols[j])
		for i, r := range rows {
			vals[i] = r[j]
		}
		arrs[k] = functions.NewOf(cols[j].T, vals)
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(rows)))
	for _, a := range arrs {
		a.Release()
	}
	return rec, nil
}

// Field is the Arrow field of a column, with MetaPGType when needed.
func Field(c Col) arrow.Field {
	f := arrow.Field{Name: c.Name, Type: c.T.Arrow(), Nullable: true}
	if c.PGType != "" {
		f.Metadata = arrow.NewMetadata([]string{MetaPGType}, []string{c.PGType})
	}
	return f
}
