package ugnos_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
)

var ctx = context.Background()

func openMem(t *testing.T, opts ...ugnos.Option) *ugnos.DB {
	t.Helper()
	db, err := ugnos.Open("", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

const sec = int64(time.Second)

func TestInsertQueryRaw(t *testing.T) {
	db := openMem(t)
	a := ugnos.TagSet{"host": "a"}
	b := ugnos.TagSet{"host": "b", "dc": "x"}
	// out of order, with a duplicate timestamp in another series
	must(t, db.Insert("t1", "cpu", 30*sec, 3, a))
	must(t, db.Insert("t1", "cpu", 10*sec, 1, a))
	must(t, db.InsertBatch("t1", "cpu", []ugnos.Point{
		{Timestamp: 20 * sec, Value: 2, Tags: a},
		{Timestamp: 10 * sec, Value: 100, Tags: b},
		{Timestamp: 40 * sec, Value: 4, Tags: a},
	}))
	got, err := db.Query(ctx, "t1", "cpu", ugnos.QueryOptions{Start: 10 * sec, End: 30 * sec})
	must(t, err)
	want := []ugnos.DataPoint{
		// ties in time are ordered by series key: "dc=x,host=b" < "host=a"
		{10 * sec, 100, b}, {10 * sec, 1, a}, {20 * sec, 2, a}, {30 * sec, 3, a},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	got, err = db.Query(ctx, "t1", "cpu", ugnos.QueryOptions{Start: 0, End: 100 * sec, Tags: ugnos.TagSet{"host": "a"}})
	must(t, err)
	if len(got) != 4 || got[0].Value != 1 || got[3].Value != 4 || got[1].Value != 2 {
		t.Fatalf("host=a: %v", got)
	}
	got, err = db.Query(ctx, "t1", "cpu", ugnos.QueryOptions{Tags: ugnos.TagSet{"dc": "x"}})
	must(t, err)
	if !reflect.DeepEqual(got, []ugnos.DataPoint{{10 * sec, 100, b}}) {
		t.Fatalf("dc=x over all time: %v", got)
	}
	got, err = db.Query(ctx, "t1", "cpu", ugnos.QueryOptions{Start: 0, End: 100 * sec, Tags: ugnos.TagSet{"host": "zzz"}})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("unknown tag value: %v", got)
	}
}

func TestAggregations(t *testing.T) {
	db := openMem(t)
	a := ugnos.TagSet{"host": "a"}
	b := ugnos.TagSet{"host": "b"}
	// host a: 0s..59s values 0..59; host b: value 100 at 5s, 65s
	var pts []ugnos.Point
	for i := 59; i >= 0; i-- {
		pts = append(pts, ugnos.Point{Timestamp: int64(i) * sec, Value: float64(i), Tags: a})
	}
	pts = append(pts, ugnos.Point{Timestamp: 5 * sec, Value: 100, Tags: b}, ugnos.Point{Timestamp: 65 * sec, Value: 7, Tags: b})
	must(t, db.InsertBatch("t", "m", pts))
	q := func(agg string, every time.Duration) []ugnos.DataPoint {
		got, err := db.Query(ctx, "t", "m", ugnos.QueryOptions{Start: 0, End: 120 * sec, Aggregation: agg, Downsample: every})
		must(t, err)
		return got
	}
	// 30 s buckets, computed by hand: host a [0,30): 0..29 sum 435; [30,60): 30..59 sum 1335
	want := map[string][]ugnos.DataPoint{
		"avg":   {{0, 14.5, a}, {0, 100, b}, {30 * sec, 44.5, a}, {60 * sec, 7, b}},
		"sum":   {{0, 435, a}, {0, 100, b}, {30 * sec, 1335, a}, {60 * sec, 7, b}},
		"min":   {{0, 0, a}, {0, 100, b}, {30 * sec, 30, a}, {60 * sec, 7, b}},
		"max":   {{0, 29, a}, {0, 100, b}, {30 * sec, 59, a}, {60 * sec, 7, b}},
		"count": {{0, 30, a}, {0, 1, b}, {30 * sec, 30, a}, {60 * sec, 1, b}},
		"first": {{0, 0, a}, {0, 100, b}, {30 * sec, 30, a}, {60 * sec, 7, b}},
		"last":  {{0, 29, a}, {0, 100, b}, {30 * sec, 59, a}, {60 * sec, 7, b}},
	}
	for agg, w := range want {
		if got := q(agg, 30*time.Second); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: got %v\nwant %v", agg, got, w)
		}
	}
	// no downsample: one point per series, at its earliest timestamp
	if got := q("sum", 0); !reflect.DeepEqual(got, []ugnos.DataPoint{{0, 1770, a}, {5 * sec, 107, b}}) {
		t.Errorf("sum over range: %v", got)
	}
	// negative timestamps bucket toward -inf
	must(t, db.Insert("t", "neg", -1, 1, nil))
	got, err := db.Query(ctx, "t", "neg", ugnos.QueryOptions{Start: -10 * sec, End: 10 * sec, Aggregation: "count", Downsample: time.Second})
	must(t, err)
	if len(got) != 1 || got[0].Timestamp != -sec || got[0].Value != 1 {
		t.Errorf("negative bucket: %v", got)
	}
}

func TestErrors(t *testing.T) {
	db := openMem(t)
	must(t, db.Insert("t", "m", 1, 1, ugnos.TagSet{"h": "a"}))
	check := func(name string, err, kind error, code string) {
		t.Helper()
		if !errors.Is(err, kind) {
			t.Errorf("%s: got %v, want kind %v", name, err, kind)
		}
		if code != "" && errs.SQLState(err) != code {
			t.Errorf("%s: SQLSTATE %s, want %s", name, errs.SQLState(err), code)
		}
	}
	_, err := db.Query(ctx, "nope", "m", ugnos.QueryOptions{})
	check("unknown tenant", err, ugnos.ErrNotFound, "3D000")
	_, err = db.Query(ctx, "t", "nope", ugnos.QueryOptions{})
	check("unknown table", err, ugnos.ErrNotFound, "42P01")
	_, err = db.Query(ctx, "t", "m", ugnos.QueryOptions{Start: 2, End: 1})
	check("inverted range", err, ugnos.ErrInvalidInput, "")
	_, err = db.Query(ctx, "t", "m", ugnos.QueryOptions{Aggregation: "median"})
	check("unknown aggregation", err, ugnos.ErrInvalidInput, "")
	_, err = db.Query(ctx, "t", "m", ugnos.QueryOptions{Downsample: time.Second})
	check("downsample without aggregation", err, ugnos.ErrInvalidInput, "")
	_, err = db.Query(ctx, "", "m", ugnos.QueryOptions{})
	check("empty tenant", err, ugnos.ErrInvalidInput, "")
	check("empty series", db.Insert("t", "", 1, 1, nil), ugnos.ErrInvalidInput, "")
	check("NaN", db.Insert("t", "m", 2, math.NaN(), nil), ugnos.ErrInvalidInput, "")
	check("Inf", db.InsertBatch("t", "m", []ugnos.Point{{Timestamp: 3, Value: 1}, {Timestamp: 4, Value: math.Inf(-1)}}), ugnos.ErrInvalidInput, "")
	check("empty tag key", db.Insert("t", "m", 2, 1, ugnos.TagSet{"": "x"}), ugnos.ErrInvalidInput, "")
	check("reserved tag", db.Insert("t", "m", 2, 1, ugnos.TagSet{"time": "x"}), ugnos.ErrInvalidInput, "")
	_, err = db.Delete("t", "m", 5, 1, nil)
	check("inverted delete", err, ugnos.ErrInvalidInput, "")
	_, err = db.ListSeries("nope", nil)
	check("list unknown tenant", err, ugnos.ErrNotFound, "")
	// nothing of the bad requests was stored: the batch with an Inf stored no point
	got, err := db.Query(ctx, "t", "m", ugnos.QueryOptions{})
	must(t, err)
	if len(got) != 1 {
		t.Errorf("bad writes stored points: %v", got)
	}
	must(t, db.Close())
	check("closed insert", db.Insert("t", "m", 1, 1, nil), ugnos.ErrClosed, "")
	_, err = db.Query(ctx, "t", "m", ugnos.QueryOptions{})
	check("closed query", err, ugnos.ErrClosed, "")
}

func TestListSeriesAndDelete(t *testing.T) {
	db := openMem(t)
	must(t, db.Insert("t", "cpu", 1*sec, 1, ugnos.TagSet{"host": "a"}))
	must(t, db.Insert("t", "cpu", 2*sec, 2, ugnos.TagSet{"host": "b"}))
	must(t, db.Insert("t", "cpu", 3*sec, 3, ugnos.TagSet{"host": "a"}))
	must(t, db.Insert("t", "mem", 1*sec, 1, ugnos.TagSet{"host": "c"}))
	names, err := db.ListSeries("t", nil)
	must(t, err)
	if !reflect.DeepEqual(names, []string{"cpu", "mem"}) {
		t.Fatalf("ListSeries: %v", names)
	}
	names, err = db.ListSeries("t", ugnos.TagSet{"host": "c"})
	must(t, err)
	if !reflect.DeepEqual(names, []string{"mem"}) {
		t.Fatalf("ListSeries host=c: %v", names)
	}
	n, err := db.Delete("t", "cpu", 0, 2*sec, ugnos.TagSet{"host": "a"})
	must(t, err)
	if n != 1 {
		t.Fatalf("deleted %d, want 1", n)
	}
	n, err = db.Delete("t", "cpu", 0, 10*sec, nil)
	must(t, err)
	if n != 2 {
		t.Fatalf("deleted %d, want 2", n)
	}
	got, err := db.Query(ctx, "t", "cpu", ugnos.QueryOptions{})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("after delete: %v", got)
	}
	_, err = db.Delete("t", "nope", 0, 1, nil)
	if !errors.Is(err, ugnos.ErrNotFound) {
		t.Fatalf("delete unknown table: %v", err)
	}
}

func TestReopenReplays(t *testing.T) {
	dir := t.TempDir()
	db, err := ugnos.Open(dir)
	must(t, err)
	for i := 0; i < 100; i++ {
		must(t, db.Insert("t", "m", int64(i)*sec, float64(i), ugnos.TagSet{"h": string(rune('a' + i%3))}))
	}
	n, err := db.Delete("t", "m", 10*sec, 19*sec, ugnos.TagSet{"h": "a"})
	must(t, err)
	must(t, db.Close())
	db, err = ugnos.Open(dir)
	must(t, err)
	defer db.Close()
	got, err := db.Query(ctx, "t", "m", ugnos.QueryOptions{Start: 0, End: 1000 * sec, Aggregation: "count"})
	must(t, err)
	total := 0.0
	for _, p := range got {
		total += p.Value
	}
	if total != float64(100-int(n)) || n != 3 { // a at 12, 15, 18
		t.Fatalf("after reopen: %v points (deleted %d)", total, n)
	}
	if rep := db.Recovery(); rep.Truncated || rep.Records == 0 {
		t.Fatalf("recovery report: %+v", rep)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
