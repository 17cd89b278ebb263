package membuf

import (
	"fmt"
	"math/rand"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
)

func TestSortPerm(t *testing.T) {
	f := func(name string, ts []int64, sids []uint32) {
		t.Helper()
		perm, runs := sortPerm(ts, sids)
		// reference: stable sort of row indexes by (sid, ts)
		want := make([]int32, len(ts))
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(a, b int32) int {
			if sids[a] != sids[b] {
				if sids[a] < sids[b] {
					return -1
				}
				return 1
			}
			if ts[a] < ts[b] {
				return -1
			}
			if ts[a] > ts[b] {
				return 1
			}
			return 0
		})
		if !slices.Equal(perm, want) {
			t.Fatalf("%s: perm %v, want %v", name, perm, want)
		}
		k := int32(0)
		for _, r := range runs {
			if r.Start != k || r.End <= r.Start || sids[perm[r.Start]] != r.SID || ts[perm[r.Start]] != r.MinT || ts[perm[r.End-1]] != r.MaxT {
				t.Fatalf("%s: bad run %+v", name, r)
			}
			k = r.End
		}
		if int(k) != len(ts) {
			t.Fatalf("%s: runs cover %d of %d rows", name, k, len(ts))
		}
	}
	f("dense", []int64{5, 3, 9, 1, 3, 3}, []uint32{2, 1, 2, 1, 2, 1})
	f("sparse", []int64{5, 3, 9, 1, 3, 3}, []uint32{2_000_000, 1, 2_000_000, 7, 4_000_000_000, 1})
	rng := rand.New(rand.NewSource(1))
	ts := make([]int64, 5000)
	sids := make([]uint32, 5000)
	for i := range ts {
		ts[i] = rng.Int63n(100)
		sids[i] = uint32(rng.Intn(50)) * 1000003
	}
	f("random", ts, sids)
}

func floatCol(vals []float64) arrow.Array {
	b := array.NewFloat64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.AppendValues(vals, nil)
	return b.NewArray()
}

// TestConcurrentAppendViewSeal runs appenders, sealers and readers together
// (for the race detector) and checks each view holds whole appends only.
func TestConcurrentAppendViewSeal(t *testing.T) {
	b := New(Config{Shards: 4, SealRows: 64})
	const writers, appends, per = 4, 200, 10
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := 0; a < appends; a++ {
				r := &Rows{N: per, Time: make([]int64, per), SID: make([]uint32, per)}
				vals := make([]float64, per)
				for i := range vals {
					r.Time[i] = int64(a*per + i)
					r.SID[i] = uint32(w*7 + i%3)
					vals[i] = float64(w)
				}
				arr := floatCol(vals)
				r.Cols = []Col{{Slot: 0, Type: arrowstore.TypeFloat, Arr: arr}}
				b.Append(r)
				arr.Release()
				if a%50 == 0 {
					b.Seal()
				}
			}
		}()
	}
	done := make(chan struct{})
	var rerr error
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			v := b.View(nil)
			cur := v.Scan(ScanSpec{MinT: arrowstore.MinTime, MaxT: arrowstore.MaxTime, Slots: []int{0}, Types: []arrowstore.FieldType{arrowstore.TypeFloat}})
			n := 0
			for {
				p, ok := cur.Next()
				if !ok {
					break
				}
				n += p.N
				p.Release()
			}
			if n%per != 0 {
				rerr = fmt.Errorf("view saw %d rows: a partial append", n)
				return
			}
		}
	}()
	wg.Wait()
	<-done
	if rerr != nil {
		t.Fatal(rerr)
	}
	if got := b.Stats().Rows; got != writers*appends*per {
		t.Fatalf("rows %d", got)
	}
	// delete one series' rows in a range, then count through a view
	del := b.Delete(0, 99, []uint32{0})
	var want int64
	for a := 0; a < appends; a++ {
		for i := 0; i < per; i++ {
			if a*per+i <= 99 && i%3 == 0 {
				want++
			}
		}
	}
	if del != want {
		t.Fatalf("deleted %d, want %d", del, want)
	}
}
