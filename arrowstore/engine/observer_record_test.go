package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
)

// selectObserver renders, for each write, the rows Select picks for each
// of its filters, copied out by Record.
type selectObserver struct {
	mem     memory.Allocator
	filters []map[string]string
	mu      sync.Mutex
	got     [][]string // by filter
}

func (o *selectObserver) Written(ev *WriteEvent) {
	if ev.Replay {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.got == nil {
		o.got = make([][]string, len(o.filters))
	}
	for i, f := range o.filters {
		sel, all := ev.Select(f)
		if sel == nil && !all {
			continue
		}
		rec := ev.Record(o.mem, sel)
		o.got[i] = append(o.got[i], renderRecord(rec)...)
		rec.Release()
	}
}

func (o *selectObserver) Deleted(DeleteEvent) {}

// renderRecord renders each row as "name:kind=value …", nulls left out.
func renderRecord(rec arrow.RecordBatch) []string {
	var out []string
	for r := 0; r < int(rec.NumRows()); r++ {
		var parts []string
		for c, f := range rec.Schema().Fields() {
			col := rec.Column(c)
			if col.IsNull(r) {
				continue
			}
			kind, _ := f.Metadata.GetValue(arrowstore.MetaKind)
			var v any
			switch col := col.(type) {
			case *array.Timestamp:
				v = int64(col.Value(r))
			case *array.String:
				v = col.Value(r)
			case *array.Float64:
				v = col.Value(r)
			case *array.Int64:
				v = col.Value(r)
			case *array.Boolean:
				v = col.Value(r)
			}
			parts = append(parts, fmt.Sprintf("%s:%s=%v", f.Name, kind, v))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func TestWriteEventSelectRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	obs := &selectObserver{mem: mem, filters: []map[string]string{
		nil,                      // 0: every row
		{"host": "a"},            // 1
		{"dc": ""},               // 2: series without dc
		{"host": "a", "dc": "x"}, // 3
		{"nope": "1"},            // 4: a tag the table lacks: nothing
		{"nope": ""},             // 5: ... absent everywhere: everything
		{"v": "1"},               // 6: a field: nothing
		{"host": "b", "dc": "x"}, // 7: nothing
	}}
	e, err := Open("", Options{Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	fieldMeta := arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{"field"})
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrow.PrimitiveTypes.Int64},
		{Name: "host", Type: arrow.BinaryTypes.String},
		{Name: "dc", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "v", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "ok", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true, Metadata: fieldMeta},
	}, nil)
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(`[
		{"time": 1, "host": "a", "dc": "x", "v": 1.5, "n": 1, "ok": true, "s": "p"},
		{"time": 2, "host": "b", "dc": null, "v": null, "n": 2, "ok": false, "s": null},
		{"time": 3, "host": "a", "dc": "x", "v": 3.5, "n": null, "ok": null, "s": "q"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if err := e.Write(bg, "t", "m", rec); err != nil {
		t.Fatal(err)
	}
	// A write with fewer columns: the others are not in its record.
	writePts(t, e, "t", "m", []pt{{"b", 4, 4.5}})

	r1 := "time:time=1 host:tag=a dc:tag=x v:field=1.5 n:field=1 ok:field=true s:field=p"
	r2 := "time:time=2 host:tag=b n:field=2 ok:field=false"
	r3 := "time:time=3 host:tag=a dc:tag=x v:field=3.5 s:field=q"
	r4 := "time:time=4 host:tag=b v:field=4.5"
	want := [][]string{
		{r1, r2, r3, r4},
		{r1, r3},
		{r2, r4},
		{r1, r3},
		nil,
		{r1, r2, r3, r4},
		nil,
		nil,
	}
	for i := range want {
		var got []string
		if i < len(obs.got) {
			got = obs.got[i]
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("filter %v: got\n%q\nwant\n%q", obs.filters[i], got, want[i])
		}
	}
}
