package ugnos_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
)

// drain returns the points of the batches waiting in a subscription (all
// writes have returned, so every batch is already there), rendered as
// text.
func drain(t *testing.T, s *ugnos.Subscription) []string {
	t.Helper()
	var out []string
	for {
		select {
		case b, ok := <-s.C():
			if !ok {
				return out
			}
			for _, p := range b.Points() {
				out = append(out, fmt.Sprintf("%s/%s %d %v %v", b.Tenant, b.Table, p.Time, p.Tags, p.Fields))
			}
			b.Release()
		default:
			return out
		}
	}
}

func TestSubscribe(t *testing.T) {
	db := openMem(t)
	a, b := ugnos.TagSet{"host": "a"}, ugnos.TagSet{"host": "b"}
	must(t, db.Insert("t1", "cpu", 1, 1, a)) // before the subscriptions: not streamed
	must(t, db.Insert("t1", "mem", 1, 1, a))
	must(t, db.Insert("t2", "cpu", 1, 1, a))

	hostA, err := db.Subscribe(ctx, "t1", "cpu", ugnos.TagSet{"host": "a"}, ugnos.SubscribeOptions{})
	must(t, err)
	all, err := db.Subscribe(ctx, "t1", "cpu", nil, ugnos.SubscribeOptions{})
	must(t, err)
	noDC, err := db.Subscribe(ctx, "t1", "cpu", ugnos.TagSet{"dc": ""}, ugnos.SubscribeOptions{})
	must(t, err)
	none, err := db.Subscribe(ctx, "t1", "cpu", ugnos.TagSet{"host": "zz"}, ugnos.SubscribeOptions{})
	must(t, err)
	if got := db.StreamStats().Subscribers; got != 4 {
		t.Fatalf("subscribers = %d, want 4", got)
	}

	must(t, db.InsertBatch("t1", "cpu", []ugnos.Point{
		{Timestamp: 10, Value: 1.5, Tags: a},
		{Timestamp: 11, Value: 2.5, Tags: b},
		{Timestamp: 12, Value: 3.5, Tags: a},
	}))
	must(t, db.Insert("t1", "mem", 13, 9, a)) // another table
	must(t, db.Insert("t2", "cpu", 14, 9, a)) // another tenant
	rec := record(t, map[string]any{
		"time":  []int64{20, 21},
		"host":  []string{"a", "b"},
		"dc":    []string{"x", "x"},
		"usage": []*float64{f64(0.25), nil},
		"ok":    []bool{true, false},
		"msg":   [][]string{{"hi", "ho"}},
	}, "time", "host", "dc", "usage", "ok", "msg")
	must(t, db.WriteRecord(ctx, "t1", "cpu", rec))
	rec.Release()

	want := func(name string, s *ugnos.Subscription, w ...string) {
		t.Helper()
		if got := drain(t, s); !slices.Equal(got, w) {
			t.Errorf("%s: got\n%q\nwant\n%q", name, got, w)
		}
	}
	want("host=a", hostA,
		"t1/cpu 10 map[host:a] map[value:1.5]",
		"t1/cpu 12 map[host:a] map[value:3.5]",
		"t1/cpu 20 map[dc:x host:a] map[msg:hi ok:true usage:0.25]")
	want("all", all,
		"t1/cpu 10 map[host:a] map[value:1.5]",
		"t1/cpu 11 map[host:b] map[value:2.5]",
		"t1/cpu 12 map[host:a] map[value:3.5]",
		"t1/cpu 20 map[dc:x host:a] map[msg:hi ok:true usage:0.25]",
		"t1/cpu 21 map[dc:x host:b] map[msg:ho ok:false]")
	want("dc absent", noDC,
		"t1/cpu 10 map[host:a] map[value:1.5]",
		"t1/cpu 11 map[host:b] map[value:2.5]",
		"t1/cpu 12 map[host:a] map[value:3.5]")
	want("host=zz", none)

	// Close ends a subscription without an error.
	hostA.Close()
	if _, ok := <-hostA.C(); ok {
		t.Fatal("C open after Close")
	}
	if err := hostA.Err(); err != nil {
		t.Fatalf("Err after Close = %v", err)
	}
	// The context's end ends it with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	sub, err := db.Subscribe(cctx, "t1", "mem", nil, ugnos.SubscribeOptions{})
	must(t, err)
	cancel()
	<-sub.Done()
	if _, ok := <-sub.C(); ok || !errors.Is(sub.Err(), context.Canceled) {
		t.Fatalf("after cancel: open %v, Err %v", ok, sub.Err())
	}
	// Close of the DB ends the rest with ErrClosed.
	must(t, db.Close())
	for _, s := range []*ugnos.Subscription{all, noDC, none} {
		<-s.Done()
		if !errors.Is(s.Err(), ugnos.ErrClosed) {
			t.Errorf("Err after db.Close = %v", s.Err())
		}
	}
	if st := db.StreamStats(); st.Subscribers != 0 || st.Dropped != 0 {
		t.Fatalf("stats after close %+v", st)
	}
}

func TestSubscribeErrors(t *testing.T) {
	db := openMem(t)
	must(t, db.Insert("t1", "cpu", 1, 1, ugnos.TagSet{"host": "a"}))
	f := func(tenant, table string, filter ugnos.TagSet, opts ugnos.SubscribeOptions, kind error, code string) {
		t.Helper()
		s, err := db.Subscribe(ctx, tenant, table, filter, opts)
		if err == nil {
			s.Close()
			t.Fatalf("Subscribe(%q, %q, %v) succeeded", tenant, table, filter)
		}
		if !errors.Is(err, kind) || errs.SQLState(err) != code {
			t.Fatalf("Subscribe(%q, %q, %v) = %v (%s), want %v %s", tenant, table, filter, err, errs.SQLState(err), kind, code)
		}
	}
	f("nope", "cpu", nil, ugnos.SubscribeOptions{}, ugnos.ErrNotFound, errs.CodeInvalidCatalogName)
	f("t1", "nope", nil, ugnos.SubscribeOptions{}, ugnos.ErrNotFound, errs.CodeUndefinedTable)
	f("t1", "cpu", ugnos.TagSet{"value": "1"}, ugnos.SubscribeOptions{}, ugnos.ErrInvalidInput, errs.CodeInvalidParameter)
	f("t1", "cpu", nil, ugnos.SubscribeOptions{Buffer: -1}, ugnos.ErrInvalidInput, errs.CodeInvalidParameter)

	var subs []*ugnos.Subscription
	for range ugnos.MaxSubscribers {
		s, err := db.Subscribe(ctx, "t1", "cpu", nil, ugnos.SubscribeOptions{Buffer: 1})
		must(t, err)
		subs = append(subs, s)
	}
	f("t1", "cpu", nil, ugnos.SubscribeOptions{}, ugnos.ErrTooManySubscribers, "53300")
	for _, s := range subs {
		s.Close()
	}
	if n := db.StreamStats().Subscribers; n != 0 {
		t.Fatalf("subscribers after Close = %d", n)
	}
}

// TestSubscribeSlowDropped: a subscriber that never receives is dropped
// with its reason; concurrent writers are not held up, and another
// subscriber receives every point.
func TestSubscribeSlowDropped(t *testing.T) {
	db := openMem(t)
	must(t, db.Insert("t1", "cpu", 0, 0, ugnos.TagSet{"host": "w0"}))
	slow, err := db.Subscribe(ctx, "t1", "cpu", nil, ugnos.SubscribeOptions{Buffer: 4})
	must(t, err)
	const writers, batches, per = 4, 200, 10
	fctx, stopFast := context.WithCancel(ctx)
	fast, err := db.Subscribe(fctx, "t1", "cpu", nil, ugnos.SubscribeOptions{Buffer: writers * batches})
	must(t, err)
	got := make(chan int)
	go func() {
		n := 0
		for b := range fast.C() {
			n += b.Len()
			b.Release()
		}
		got <- n
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tags := ugnos.TagSet{"host": fmt.Sprint("w", w)}
			for i := range batches {
				pts := make([]ugnos.Point, per)
				for j := range pts {
					pts[j] = ugnos.Point{Timestamp: int64(1 + (i*per+j)*writers + w), Value: 1, Tags: tags}
				}
				if err := db.InsertBatch("t1", "cpu", pts); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	<-slow.Done()
	err = slow.Err()
	if !errors.Is(err, ugnos.ErrSubscriberTooSlow) || err.Error() != "subscriber too slow: 4 batches buffered" {
		t.Fatalf("slow subscriber: Err = %v", err)
	}
	// What was buffered before the drop is still delivered, then C closes.
	if n := len(drain(t, slow)); n != 4*per {
		t.Errorf("slow subscriber got %d points after the drop, want %d", n, 4*per)
	}
	if _, ok := <-slow.C(); ok {
		t.Error("slow subscriber's C still open")
	}
	stopFast() // C closes; the batches buffered are still received
	if n := <-got; n != writers*batches*per {
		t.Errorf("fast subscriber got %d points, want %d", n, writers*batches*per)
	}
	if err := fast.Err(); !errors.Is(err, context.Canceled) {
		t.Errorf("fast subscriber: Err = %v", err)
	}
	pts, err := db.Query(ctx, "t1", "cpu", ugnos.QueryOptions{Start: 1, End: 1 << 40})
	must(t, err)
	if len(pts) != writers*batches*per {
		t.Errorf("stored %d points, want %d", len(pts), writers*batches*per)
	}
	if st := db.StreamStats(); st.Subscribers != 0 || st.Dropped != 1 {
		t.Errorf("stats %+v, want 0 subscribers, 1 dropped", st)
	}
}

func ExampleDB_Subscribe() {
	db, _ := ugnos.Open("")
	defer db.Close()
	db.Insert("acme", "cpu", 1, 0.5, ugnos.TagSet{"host": "a"}) // creates the table

	sub, err := db.Subscribe(context.Background(), "acme", "cpu", ugnos.TagSet{"host": "a"}, ugnos.SubscribeOptions{})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	db.Insert("acme", "cpu", 2, 0.75, ugnos.TagSet{"host": "b"}) // not host a
	db.Insert("acme", "cpu", 3, 0.25, ugnos.TagSet{"host": "a"})

	b := <-sub.C()
	for _, p := range b.Points() {
		fmt.Println(b.Table, p.Time, p.Tags["host"], p.Fields["value"])
	}
	b.Release()
	// Output: cpu 3 a 0.25
}
