package ugnos_test

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ugnos/ugnos"
)

// refPoint is a point in the reference model.
type refPoint struct {
	ts   int64
	v    float64
	tags ugnos.TagSet
}

func refKey(t ugnos.TagSet) string {
	var ks []string
	for k, v := range t {
		if v != "" {
			ks = append(ks, k+"="+v)
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func matches(p ugnos.TagSet, f ugnos.TagSet) bool {
	for k, v := range f {
		if p[k] != v {
			return false
		}
	}
	return true
}

// refQuery computes what Query must return, the simple way.
func refQuery(pts []refPoint, q ugnos.QueryOptions) map[string][]float64 {
	type key struct {
		series string
		ts     int64
	}
	groups := map[key][]refPoint{}
	for _, p := range pts {
		if p.ts < q.Start || p.ts > q.End || !matches(p.tags, q.Tags) {
			continue
		}
		k := key{series: refKey(p.tags), ts: p.ts}
		if q.Aggregation != "" {
			if q.Downsample > 0 {
				d := int64(q.Downsample)
				b := p.ts / d
				if p.ts%d != 0 && p.ts < 0 {
					b--
				}
				k.ts = b * d
			} else {
				k.ts = 0
			}
		}
		groups[k] = append(groups[k], p)
	}
	out := map[string][]float64{}
	for k, g := range groups {
		ts := k.ts
		if q.Aggregation != "" && q.Downsample == 0 {
			ts = g[0].ts
			for _, p := range g {
				ts = min(ts, p.ts)
			}
		}
		name := fmt.Sprintf("%d|%s", ts, k.series)
		if q.Aggregation == "" {
			for _, p := range g {
				out[name] = append(out[name], p.v)
			}
			continue
		}
		sum, mn, mx := 0.0, g[0].v, g[0].v
		first, last := g[0], g[0]
		for _, p := range g {
			sum += p.v
			mn, mx = min(mn, p.v), max(mx, p.v)
			if p.ts < first.ts {
				first = p
			}
			if p.ts > last.ts {
				last = p
			}
		}
		var v float64
		switch q.Aggregation {
		case "avg":
			v = sum / float64(len(g))
		case "sum":
			v = sum
		case "min":
			v = mn
		case "max":
			v = mx
		case "count":
			v = float64(len(g))
		case "first":
			v = first.v
		case "last":
			v = last.v
		}
		out[name] = []float64{v}
	}
	for _, vs := range out {
		slices.Sort(vs)
	}
	return out
}

func gotQuery(t *testing.T, got []ugnos.DataPoint) map[string][]float64 {
	out := map[string][]float64{}
	for i, p := range got {
		if i > 0 && got[i-1].Timestamp > p.Timestamp {
			t.Fatalf("result not ordered by time at %d", i)
		}
		name := fmt.Sprintf("%d|%s", p.Timestamp, refKey(p.Tags))
		out[name] = append(out[name], p.Value)
	}
	for _, vs := range out {
		slices.Sort(vs)
	}
	return out
}

// TestModel runs random writes, deletes, seals and reopens against the
// engine and a reference model, and compares random queries exactly.
func TestModel(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	opts := []ugnos.Option{ugnos.WithSealRows(16), ugnos.WithShards(3)}
	db, err := ugnos.Open(dir, opts...)
	must(t, err)
	defer func() { db.Close() }()
	series := []ugnos.TagSet{
		{"host": "a"}, {"host": "b"}, {"host": "a", "dc": "x"}, {"dc": "x"}, {"host": "c", "dc": "y"}, {},
	}
	used := map[string]map[int64]bool{} // unique timestamps per series
	var ref []refPoint
	randTS := func(s ugnos.TagSet) int64 {
		k := refKey(s)
		if used[k] == nil {
			used[k] = map[int64]bool{}
		}
		for {
			ts := (rng.Int63n(4000) - 500) * sec
			if !used[k][ts] {
				used[k][ts] = true
				return ts
			}
		}
	}
	randFilter := func() ugnos.TagSet {
		switch rng.Intn(4) {
		case 0:
			return nil
		case 1:
			return ugnos.TagSet{"host": []string{"a", "b", "c", "zz"}[rng.Intn(4)]}
		case 2:
			return ugnos.TagSet{"dc": "x"}
		default:
			return ugnos.TagSet{"host": "a", "dc": "x"}
		}
	}
	for step := 0; step < 300; step++ {
		r := rng.Intn(100)
		if step == 0 {
			r = 0 // a write first: the tenant and table exist from then on
		}
		switch {
		case r < 60:
			n := 1 + rng.Intn(40)
			batch := make([]ugnos.Point, n)
			for i := range batch {
				s := series[rng.Intn(len(series))]
				batch[i] = ugnos.Point{Timestamp: randTS(s), Value: float64(rng.Intn(1000) - 500), Tags: s}
				ref = append(ref, refPoint{batch[i].Timestamp, batch[i].Value, s})
			}
			must(t, db.InsertBatch("t", "m", batch))
		case r < 70:
			a, b := (rng.Int63n(4000)-500)*sec, (rng.Int63n(4000)-500)*sec
			a, b = min(a, b), max(a, b)
			f := randFilter()
			n, err := db.Delete("t", "m", a, b, f)
			must(t, err)
			kept := ref[:0]
			want := 0
			for _, p := range ref {
				if p.ts >= a && p.ts <= b && matches(p.tags, f) {
					want++
					delete(used[refKey(p.tags)], p.ts)
					continue
				}
				kept = append(kept, p)
			}
			ref = kept
			if int(n) != want {
				t.Fatalf("step %d: delete [%d,%d] %v removed %d, want %d", step, a, b, f, n, want)
			}
		case r < 74:
			db.Flush()
		case r < 75:
			must(t, db.Checkpoint(ctx))
		case r < 76:
			must(t, db.Compact(ctx))
		case r < 78:
			must(t, db.Close())
			db, err = ugnos.Open(dir, opts...)
			must(t, err)
		default:
			if len(ref) == 0 {
				continue
			}
			a, b := (rng.Int63n(5000)-1000)*sec, (rng.Int63n(5000)-1000)*sec
			q := ugnos.QueryOptions{Start: min(a, b), End: max(a, b), Tags: randFilter()}
			if rng.Intn(3) > 0 {
				q.Aggregation = []string{"avg", "sum", "min", "max", "count", "first", "last"}[rng.Intn(7)]
				q.Downsample = time.Duration(rng.Intn(3)) * 7 * time.Second
			}
			got, err := db.Query(ctx, "t", "m", q)
			must(t, err)
			if g, w := gotQuery(t, got), refQuery(ref, q); !reflect.DeepEqual(g, w) {
				t.Fatalf("step %d: query %+v\ngot  %v\nwant %v", step, q, g, w)
			}
		}
	}
}
