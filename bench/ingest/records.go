// Package ingest turns the TSBS cpu-only workload into ugnos writes and
// measures them.
package ingest

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/bench/tsbs"
)

// Schema is the cpu table as an Arrow schema: time, 10 text tags, 10
// double fields.
func Schema() *arrow.Schema {
	fs := []arrow.Field{{Name: "time", Type: &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}}}
	for _, t := range tsbs.TagNames {
		fs = append(fs, arrow.Field{Name: t, Type: arrow.BinaryTypes.String})
	}
	for _, f := range tsbs.FieldNames {
		fs = append(fs, arrow.Field{Name: f, Type: arrow.PrimitiveTypes.Float64})
	}
	return arrow.NewSchema(fs, nil)
}

// Records generates the workload as Arrow records of at most batch rows
// each, optionally keeping only hosts for which keep(host) is true.
func Records(cfg tsbs.Config, batch int, keep func(host int) bool) []arrow.RecordBatch {
	g := tsbs.New(cfg)
	sc := Schema()
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	var out []arrow.RecordBatch
	var r tsbs.Row
	n := 0
	for g.Next(&r) {
		if keep != nil && !keep(r.Host) {
			continue
		}
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(r.Time))
		for i, v := range r.Tags {
			b.Field(1 + i).(*array.StringBuilder).Append(v)
		}
		for i, v := range r.Fields {
			b.Field(11 + i).(*array.Float64Builder).Append(v)
		}
		n++
		if n == batch {
			out = append(out, b.NewRecordBatch())
			n = 0
		}
	}
	if n > 0 {
		out = append(out, b.NewRecordBatch())
	}
	return out
}
