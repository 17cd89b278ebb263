package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
)

// lastRows returns LastRows of table m as sorted "host@t=v".
func lastRows(t *testing.T, e *Engine, filters ...arrowstore.Filter) []string {
	t.Helper()
	tb, err := e.Table("t", "m")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := tb.(arrowstore.LastRower).LastRows(bg, arrowstore.ScanRequest{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime,
		Columns: []string{"time", "host", "v"}, Filters: filters})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Release()
	var out []string
	for rd.Next() {
		rec := rd.RecordBatch()
		ts := rec.Column(0).(*array.Timestamp)
		hs := rec.Column(1).(*array.Dictionary)
		hv := hs.Dictionary().(*array.String)
		vs := rec.Column(2).(*array.Float64)
		for i := range int(rec.NumRows()) {
			out = append(out, fmt.Sprintf("%s@%d=%g", hv.Value(hs.GetValueIndex(i)), ts.Value(i), vs.Value(i)))
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestLastRows(t *testing.T) {
	dir := t.TempDir()
	e := openDir(t, dir, Options{})
	f := func(want ...string) {
		t.Helper()
		if got := lastRows(t, e); !slices.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	writePts(t, e, "t", "m", []pt{{"a", 10, 1}, {"a", 30, 3}, {"a", 20, 2}, {"b", 5, 5}, {"b", 5, 6}, {"c", 1, 7}})
	f("a@30=3", "b@5=5", "b@5=6", "c@1=7") // rows tied at the latest time all come
	if got := lastRows(t, e, arrowstore.Filter{Column: "host", Op: arrowstore.OpIn, Values: []string{"a", "c"}}); !slices.Equal(got, []string{"a@30=3", "c@1=7"}) {
		t.Fatalf("filtered: %v", got)
	}
	if _, err := e.Delete(bg, "t", "m", 25, 100, nil); err != nil {
		t.Fatal(err)
	}
	f("a@20=2", "b@5=5", "b@5=6", "c@1=7")
	if err := e.Checkpoint(bg); err != nil {
		t.Fatal(err)
	}
	writePts(t, e, "t", "m", []pt{{"c", 2, 8}})
	e.Close()
	// after reopening: segments (folded from their series runs) and WAL
	e = openDir(t, dir, Options{})
	defer e.Close()
	f("a@20=2", "b@5=5", "b@5=6", "c@2=8")
	if _, err := e.Delete(bg, "t", "m", 0, 20, []arrowstore.Filter{{Column: "host", Op: arrowstore.OpEq, Values: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	f("b@5=5", "b@5=6", "c@2=8")
	writePts(t, e, "t", "m", []pt{{"a", 3, 9}})
	f("a@3=9", "b@5=5", "b@5=6", "c@2=8")
	// the previous row far back: the search back from the deleted latest
	// row widens its window until it gets there
	writePts(t, e, "t", "m", []pt{{"d", -1e18, 1}, {"d", 2e18, 2}})
	if _, err := e.Delete(bg, "t", "m", 1e18, 3e18, nil); err != nil {
		t.Fatal(err)
	}
	f("a@3=9", "b@5=5", "b@5=6", "c@2=8", "d@-1000000000000000000=1")
	// more distinct latest times than scans: windows between the widest gaps
	var pts []pt
	var exp []string
	for i := range 50 {
		h := fmt.Sprintf("s%02d", i)
		at := int64(i*i) * 1e9
		pts = append(pts, pt{h, at, float64(i)}, pt{h, at - 1, -1})
		exp = append(exp, fmt.Sprintf("%s@%d=%d", h, at, i))
	}
	writePts(t, e, "t", "m", pts)
	if got := lastRows(t, e, arrowstore.Filter{Column: "host", Op: arrowstore.OpNotIn, Values: []string{"a", "b", "c", "d"}}); !slices.Equal(got, exp) {
		t.Fatalf("windows: got %v\nwant %v", got, exp)
	}
}

// BenchmarkLastTimesObserve is what keeping the latest times costs a
// commit: rows of 100 series in time order, 10,000 per commit (the TSBS
// ingest shape).
//
//	go test -run X -bench LastTimesObserve ./arrowstore/engine
func BenchmarkLastTimesObserve(b *testing.B) {
	const n = 10000
	rows := &membuf.Rows{N: n, Time: make([]int64, n), SID: make([]uint32, n)}
	for i := range n {
		rows.SID[i] = uint32(i % 100)
		rows.Time[i] = int64(i/100) * 10e9
	}
	var l lastTimes
	b.ReportAllocs()
	for b.Loop() {
		for i := range rows.Time {
			rows.Time[i] += n / 100 * 10e9
		}
		l.observe(rows)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
}
