package ugnos

import (
	"context"
	"reflect"
	"testing"
	"time"
)

func batchOf(t *testing.T, rules ...*rule) *ruleBatch {
	t.Helper()
	key, keys, ok := batchKeyOf(rules[0])
	if !ok {
		t.Fatalf("rule %q is not batched", rules[0].def.Name)
	}
	for _, r := range rules[1:] {
		if k, _, ok := batchKeyOf(r); !ok || k != key {
			t.Fatalf("rule %q is not in the batch of %q", r.def.Name, rules[0].def.Name)
		}
	}
	return &ruleBatch{key: key, keys: keys}
}

func thr(name string, tags TagSet, field, agg string) *rule {
	return &rule{tenant: "acme", def: RuleDefinition{Name: name, Table: "cpu", Tags: tags, Field: field, Aggregation: agg,
		Window: time.Hour, Condition: ">", Threshold: 5, Every: time.Hour}}
}

func TestRuleBatchKey(t *testing.T) {
	f := func(r *rule, ok bool) {
		t.Helper()
		if _, _, got := batchKeyOf(r); got != ok {
			t.Fatalf("%q: batched %v, want %v", r.def.Name, got, ok)
		}
	}
	f(thr("tagged", TagSet{"host": "a"}, "", ""), true)
	f(thr("no tags", nil, "", ""), false)
	f(thr("an empty tag value", TagSet{"host": "a", "dc": ""}, "", ""), false)
	f(&rule{tenant: "acme", def: RuleDefinition{Name: "query", Query: "SELECT 1", Every: time.Hour}}, false)

	same := func(a, b *rule, want bool) {
		t.Helper()
		ka, _, _ := batchKeyOf(a)
		kb, _, _ := batchKeyOf(b)
		if (ka == kb) != want {
			t.Fatalf("%q and %q in one batch: %v, want %v", a.def.Name, b.def.Name, ka == kb, want)
		}
	}
	a := thr("a", TagSet{"host": "a"}, "usage", "avg")
	same(a, thr("other host, field, aggregation", TagSet{"host": "b"}, "idle", "max"), true)
	same(a, thr("other tag names", TagSet{"dc": "x"}, "usage", "avg"), false)
	same(a, thr("more tag names", TagSet{"host": "a", "dc": "x"}, "usage", "avg"), false)
	w := thr("other window", TagSet{"host": "a"}, "usage", "avg")
	w.def.Window = time.Minute
	same(a, w, false)
	e := thr("other interval", TagSet{"host": "a"}, "usage", "avg")
	e.def.Every = time.Minute
	same(a, e, false)
	d := thr("window defaults to every", TagSet{"host": "a"}, "usage", "avg")
	d.def.Window = 0
	same(a, d, true)
	o := thr("other database", TagSet{"host": "a"}, "usage", "avg")
	o.tenant = "other"
	same(a, o, false)
}

func TestRuleBatchSQL(t *testing.T) {
	rules := []*rule{
		thr("r1", TagSet{"host": "b", "dc": "x"}, "usage", ""),
		thr("r2", TagSet{"host": "a", "dc": "x"}, "usage", "avg"), // the same aggregate as r1
		thr("r3", TagSet{"host": "o'brien", "dc": "y"}, "", "max"),
		thr("r4", TagSet{"host": "a", "dc": "y"}, "usage", "last"),
	}
	q, cols := batchSQL(batchOf(t, rules...), rules)
	want := `SELECT "dc", "host", avg("usage") AS e0, max("value") AS e1, last("usage", time) AS e2 FROM "cpu"` +
		` WHERE time >= now() - INTERVAL '3600000000 microseconds' AND "dc" IN ('x', 'y') AND "host" IN ('a', 'b', 'o''brien') GROUP BY "dc", "host"`
	if q != want {
		t.Fatalf("batch query\n%s\nwant\n%s", q, want)
	}
	if !reflect.DeepEqual(cols, []int{2, 2, 3, 4}) {
		t.Fatalf("columns %v", cols)
	}
}

// TestRuleBatchGroups: a batch's groups are each rule's own query's, on
// data with a row outside the window, a host without rows and every
// aggregation; the values are checked by hand too.
func TestRuleBatchGroups(t *testing.T) {
	db, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	ins := func(ago time.Duration, v float64, host string) {
		t.Helper()
		if err := db.Insert("acme", "cpu", now.Add(-ago).UnixNano(), v, TagSet{"host": host, "dc": "x"}); err != nil {
			t.Fatal(err)
		}
	}
	ins(3*time.Minute, 2, "a")
	ins(2*time.Minute, 9, "a")
	ins(time.Minute, 4, "a") // the last
	ins(2*time.Hour, 100, "a")
	ins(time.Minute, 7, "b")
	ins(30*time.Minute, 1, "b")
	ins(2*time.Hour, 50, "c") // only outside the window

	type want struct {
		value    float64
		hasValue bool
		holds    bool
	}
	cases := map[string]want{
		"a avg": {5, true, false}, "a min": {2, true, false}, "a max": {9, true, true}, "a sum": {15, true, true}, "a count": {3, true, false}, "a last": {4, true, false},
		"b avg": {4, true, false}, "b max": {7, true, true}, "b count": {2, true, false}, "b last": {7, true, true},
		"c avg": {0, false, false}, "c sum": {0, false, false}, "c count": {0, true, false}, "c last": {0, false, false},
		"none min": {0, false, false}, "none count": {0, true, false},
	}
	var rules []*rule
	hosts := map[string]string{"a": "a", "b": "b", "c": "c", "none": "nosuchhost"}
	for name := range cases {
		var h, agg string
		for i := range name {
			if name[i] == ' ' {
				h, agg = name[:i], name[i+1:]
			}
		}
		r := thr(name, TagSet{"host": hosts[h]}, "", agg)
		r.sql = thresholdSQL(r.def)
		rules = append(rules, r)
	}
	got, err := db.batchGroups(context.Background(), batchOf(t, rules...), rules)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rules {
		own, err := db.ruleGroups(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got[i], own) {
			t.Errorf("%s: batch %+v, own query %+v", r.def.Name, got[i], own)
		}
		w := cases[r.def.Name]
		if len(got[i]) != 1 {
			t.Fatalf("%s: %d groups", r.def.Name, len(got[i]))
		}
		g := got[i][0]
		if g.value != w.value || g.hasValue != w.hasValue || g.holds != w.holds || !reflect.DeepEqual(g.labels, map[string]string{"host": hosts[r.def.Name[:len(r.def.Name)-len(r.def.Aggregation)-1]]}) {
			t.Errorf("%s: %+v, want %+v", r.def.Name, g, w)
		}
	}

	// a tag the table lacks: the shared query fails, each rule runs its own
	bad := thr("bad", TagSet{"nosuchtag": "a"}, "", "avg")
	if _, err := db.batchGroups(context.Background(), batchOf(t, bad), []*rule{bad}); err == nil {
		t.Fatal("a batch over a missing tag column gave no error")
	}
}

// TestRuleBatchEvaluation: batched rules fire, resolve, fall back to
// their own queries when the shared one fails, and stop when removed.
func TestRuleBatchEvaluation(t *testing.T) {
	db, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UnixNano()
	for _, h := range []string{"a", "b"} {
		if err := db.Insert("acme", "cpu", now, map[string]float64{"a": 95, "b": 10}[h], TagSet{"host": h}); err != nil {
			t.Fatal(err)
		}
	}
	def := func(name, host string) RuleDefinition {
		return RuleDefinition{Name: name, Table: "cpu", Tags: TagSet{"host": host}, Aggregation: "max", Window: time.Hour,
			Condition: ">", Threshold: 90, Every: 20 * time.Millisecond}
	}
	ida, err := db.RegisterRule("acme", def("a", "a"))
	if err != nil {
		t.Fatal(err)
	}
	idb, err := db.RegisterRule("acme", def("b", "b"))
	if err != nil {
		t.Fatal(err)
	}
	bad := def("bad", "a")
	bad.Tags = TagSet{"nosuchtag": "a"}
	idbad, err := db.RegisterRule("acme", bad)
	if err != nil {
		t.Fatal(err)
	}
	db.rules.batchMu.Lock()
	nb := len(db.rules.batches)
	db.rules.batchMu.Unlock()
	if nb != 2 {
		t.Fatalf("%d batches, want 2", nb)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := db.RuleStatuses("acme")
		al := db.Alerts("acme")
		if len(al) == 1 && st[idb].Evaluations > 2 && st[idbad].Evaluations > 0 {
			if al[0].RuleID != ida || al[0].State != "firing" || al[0].Value != 95 || al[0].Labels["host"] != "a" {
				t.Fatalf("alerts %+v", al)
			}
			if st[idbad].LastError == "" || st[ida].LastError != "" {
				t.Fatalf("statuses %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out: alerts %+v, statuses %+v", al, st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, id := range []RuleID{ida, idb, idbad} {
		if err := db.RemoveRule("acme", id); err != nil {
			t.Fatal(err)
		}
	}
	db.rules.batchMu.Lock()
	nb = len(db.rules.batches)
	db.rules.batchMu.Unlock()
	if nb != 0 {
		t.Fatalf("%d batches left", nb)
	}
}
