package ugnos_test

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/arrowstore"
)

func fieldMeta(kind string) arrow.Metadata {
	return arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{kind})
}

// record builds a record from columns given as Go slices (nil entries in
// []*T are nulls).
func record(t *testing.T, cols map[string]any, order ...string) arrow.RecordBatch {
	t.Helper()
	mem := memory.DefaultAllocator
	var fields []arrow.Field
	var arrs []arrow.Array
	n := -1
	for _, name := range order {
		var a arrow.Array
		var f arrow.Field
		switch v := cols[name].(type) {
		case []int64: // time
			b := array.NewTimestampBuilder(mem, arrowstore.TimeType)
			for _, x := range v {
				b.Append(arrow.Timestamp(x))
			}
			a, f = b.NewArray(), arrow.Field{Name: name, Type: arrowstore.TimeType}
		case []string: // tag
			b := array.NewStringBuilder(mem)
			for _, x := range v {
				b.Append(x)
			}
			a, f = b.NewArray(), arrow.Field{Name: name, Type: arrow.BinaryTypes.String}
		case []*float64:
			b := array.NewFloat64Builder(mem)
			for _, x := range v {
				if x == nil {
					b.AppendNull()
				} else {
					b.Append(*x)
				}
			}
			a, f = b.NewArray(), arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}
		case []int32:
			b := array.NewInt32Builder(mem)
			b.AppendValues(v, nil)
			a, f = b.NewArray(), arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int32}
		case []bool:
			b := array.NewBooleanBuilder(mem)
			b.AppendValues(v, nil)
			a, f = b.NewArray(), arrow.Field{Name: name, Type: arrow.FixedWidthTypes.Boolean}
		case [][]string: // text field
			b := array.NewStringBuilder(mem)
			b.AppendValues(v[0], nil)
			a, f = b.NewArray(), arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Metadata: fieldMeta("field")}
		default:
			t.Fatalf("column %s: unsupported %T", name, v)
		}
		if n >= 0 && a.Len() != n {
			t.Fatalf("column %s has %d rows, want %d", name, a.Len(), n)
		}
		n = a.Len()
		fields = append(fields, f)
		arrs = append(arrs, a)
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(n))
}

func f64(v float64) *float64 { return &v }

// dump scans a table and renders every row as text, sorted.
func dump(t *testing.T, db *ugnos.DB, tenant, table string, req arrowstore.ScanRequest) []string {
	t.Helper()
	if req.MinT == 0 && req.MaxT == 0 {
		req.MinT, req.MaxT = arrowstore.MinTime, arrowstore.MaxTime
	}
	rd, err := db.Scan(ctx, tenant, table, req)
	must(t, err)
	defer rd.Release()
	var rows []string
	for rd.Next() {
		rec := rd.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for c := 0; c < int(rec.NumCols()); c++ {
				col := rec.Column(c)
				name := rec.Schema().Field(c).Name
				if col.IsNull(i) {
					cells = append(cells, name+"=NULL")
					continue
				}
				switch a := col.(type) {
				case *array.Timestamp:
					cells = append(cells, fmt.Sprintf("%s=%d", name, a.Value(i)))
				case *array.Dictionary:
					cells = append(cells, name+"="+a.Dictionary().(*array.String).Value(a.GetValueIndex(i)))
				default:
					cells = append(cells, name+"="+a.ValueStr(i))
				}
			}
			rows = append(rows, strings.Join(cells, " "))
		}
	}
	must(t, rd.Err())
	sort.Strings(rows)
	return rows
}

func TestWriteRecordAndScan(t *testing.T) {
	db := openMem(t)
	rec := record(t, map[string]any{
		"time":  []int64{30, 10, 20},
		"host":  []string{"a", "b", "a"},
		"usage": []*float64{f64(1.5), nil, f64(math.Copysign(0, -1))},
		"cores": []int32{4, 8, 4},
		"up":    []bool{true, false, true},
		"note":  [][]string{{"x", "", "z"}},
	}, "time", "host", "usage", "cores", "up", "note")
	defer rec.Release()
	must(t, db.WriteRecord(ctx, "t", "cpu", rec))
	cols, err := db.Columns("t", "cpu")
	must(t, err)
	var desc []string
	for _, c := range cols {
		desc = append(desc, c.Name+":"+c.Kind.String()+":"+c.Type.String())
	}
	want := "time:time:unknown host:tag:unknown usage:field:double precision cores:field:bigint up:field:boolean note:field:text"
	if got := strings.Join(desc, " "); got != want {
		t.Fatalf("columns: %s\nwant %s", got, want)
	}
	got := dump(t, db, "t", "cpu", arrowstore.ScanRequest{})
	wantRows := []string{
		"time=10 host=b usage=NULL cores=8 up=false note=",
		"time=20 host=a usage=-0 cores=4 up=true note=z",
		"time=30 host=a usage=1.5 cores=4 up=true note=x",
	}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Fatalf("scan:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRows, "\n"))
	}
	// projection, time range and tag filter pushed down
	got = dump(t, db, "t", "cpu", arrowstore.ScanRequest{MinT: 15, MaxT: 40, Columns: []string{"cores", "time"},
		Filters: []arrowstore.Filter{{Column: "host", Op: arrowstore.OpEq, Values: []string{"a"}}}})
	if strings.Join(got, "|") != "cores=4 time=20|cores=4 time=30" {
		t.Fatalf("pushdown scan: %v", got)
	}
	// a later write adds a tag and a field; older rows read them as NULL
	rec2 := record(t, map[string]any{
		"time": []int64{40}, "host": []string{"a"}, "rack": []string{"r1"}, "temp": []*float64{f64(70)},
	}, "time", "host", "rack", "temp")
	defer rec2.Release()
	must(t, db.WriteRecord(ctx, "t", "cpu", rec2))
	got = dump(t, db, "t", "cpu", arrowstore.ScanRequest{Columns: []string{"time", "rack", "temp", "usage"}})
	wantRows = []string{
		"time=10 rack=NULL temp=NULL usage=NULL",
		"time=20 rack=NULL temp=NULL usage=-0",
		"time=30 rack=NULL temp=NULL usage=1.5",
		"time=40 rack=r1 temp=70 usage=NULL",
	}
	if strings.Join(got, "\n") != strings.Join(wantRows, "\n") {
		t.Fatalf("after schema change:\n%s", strings.Join(got, "\n"))
	}
	// NOT IN and <> exclude rows without the tag (SQL NULL semantics)
	got = dump(t, db, "t", "cpu", arrowstore.ScanRequest{Columns: []string{"time"},
		Filters: []arrowstore.Filter{{Column: "rack", Op: arrowstore.OpNotEq, Values: []string{"r2"}}}})
	if strings.Join(got, "|") != "time=40" {
		t.Fatalf("rack <> r2: %v", got)
	}
	got = dump(t, db, "t", "cpu", arrowstore.ScanRequest{Columns: []string{"time"},
		Filters: []arrowstore.Filter{{Column: "host", Op: arrowstore.OpIn, Values: []string{"b", "q"}}}})
	if strings.Join(got, "|") != "time=10" {
		t.Fatalf("host IN (b,q): %v", got)
	}
	_, err = db.Scan(ctx, "t", "cpu", arrowstore.ScanRequest{MaxT: 1, Columns: []string{"nope"}})
	if !errors.Is(err, ugnos.ErrNotFound) {
		t.Fatalf("unknown column: %v", err)
	}
}

func TestWriteRecordRejectsAndStoresNothing(t *testing.T) {
	db := openMem(t)
	good := record(t, map[string]any{"time": []int64{1}, "host": []string{"a"}, "v": []*float64{f64(1)}}, "time", "host", "v")
	defer good.Release()
	must(t, db.WriteRecord(ctx, "t", "m", good))
	bad := []struct {
		name string
		rec  arrow.RecordBatch
	}{
		// v is double; writing it as bigint conflicts (and the new tag in the
		// same record must not be added)
		{"type conflict", record(t, map[string]any{"time": []int64{2}, "dc": []string{"x"}, "v": []int32{1}}, "time", "dc", "v")},
		{"tag as field", record(t, map[string]any{"time": []int64{2}, "host": [][]string{{"a"}}}, "time", "host")},
		{"no time", record(t, map[string]any{"host": []string{"a"}, "v": []*float64{f64(1)}}, "host", "v")},
	}
	for _, b := range bad {
		err := db.WriteRecord(ctx, "t", "m", b.rec)
		b.rec.Release()
		if !errors.Is(err, ugnos.ErrInvalidInput) {
			t.Errorf("%s: got %v, want ErrInvalidInput", b.name, err)
		}
	}
	cols, _ := db.Columns("t", "m")
	if len(cols) != 3 {
		t.Errorf("a refused write changed the schema: %v", cols)
	}
	if got := dump(t, db, "t", "m", arrowstore.ScanRequest{}); len(got) != 1 {
		t.Errorf("refused writes stored rows: %v", got)
	}
	// a null time is refused
	b := array.NewTimestampBuilder(memory.DefaultAllocator, arrowstore.TimeType)
	b.AppendNull()
	ta := b.NewArray()
	rec := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "time", Type: arrowstore.TimeType, Nullable: true}}, nil), []arrow.Array{ta}, 1)
	if err := db.WriteRecord(ctx, "t", "m", rec); !errors.Is(err, ugnos.ErrInvalidInput) {
		t.Errorf("null time: %v", err)
	}
}

// TestConcurrentWritersAndReaders runs 8 writers on disjoint hosts with
// readers querying meanwhile; every point must be there exactly once.
func TestConcurrentWritersAndReaders(t *testing.T) {
	db, err := ugnos.Open(t.TempDir(), ugnos.WithSealRows(512))
	must(t, err)
	defer db.Close()
	const writers, batches, perBatch = 8, 30, 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var rmu sync.Mutex
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0.0
			for {
				select {
				case <-stop:
					return
				default:
				}
				pts, err := db.Query(ctx, "t", "m", ugnos.QueryOptions{Start: 0, End: math.MaxInt64, Aggregation: "count"})
				if err != nil && !errors.Is(err, ugnos.ErrNotFound) {
					rmu.Lock()
					readErr = err
					rmu.Unlock()
					return
				}
				total := 0.0
				for _, p := range pts {
					total += p.Value
				}
				if total < last || int(total)%perBatch != 0 { // whole batches only, never shrinking
					rmu.Lock()
					readErr = fmt.Errorf("reader saw %v points after %v", total, last)
					rmu.Unlock()
					return
				}
				last = total
			}
		}()
	}
	var ww sync.WaitGroup
	for w := 0; w < writers; w++ {
		ww.Add(1)
		go func() {
			defer ww.Done()
			tags := ugnos.TagSet{"host": fmt.Sprintf("h%d", w)}
			for b := 0; b < batches; b++ {
				pts := make([]ugnos.Point, perBatch)
				for i := range pts {
					pts[i] = ugnos.Point{Timestamp: int64(b*perBatch+i) * sec, Value: float64(w*1e6 + b*perBatch + i), Tags: tags}
				}
				if err := db.InsertBatch("t", "m", pts); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	ww.Wait()
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	for w := 0; w < writers; w++ {
		pts, err := db.Query(ctx, "t", "m", ugnos.QueryOptions{Start: 0, End: math.MaxInt64, Tags: ugnos.TagSet{"host": fmt.Sprintf("h%d", w)}})
		must(t, err)
		if len(pts) != batches*perBatch {
			t.Fatalf("writer %d: %d points, want %d", w, len(pts), batches*perBatch)
		}
		for i, p := range pts {
			if p.Timestamp != int64(i)*sec || p.Value != float64(w*1e6+i) {
				t.Fatalf("writer %d point %d: %+v", w, i, p)
			}
		}
	}
}
