package sql

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ugnos/ugnos/errs"
)

func TestParserCache(t *testing.T) {
	p := NewParser(2)
	q1, q2, q3 := "SELECT 1", "SELECT 2; SELECT 3", "SELECT 4"
	first, err := p.Parse(q1)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Parse(q1)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Node != first[0].Node {
		t.Error("repeated text was parsed again, want the cached tree")
	}
	if h, m := p.Stats(); h != 1 || m != 1 {
		t.Errorf("Stats() = %d, %d; want 1, 1", h, m)
	}
	// The caller owns the slice: changing it does not reach the cache.
	again[0].Text = "changed"
	if third, _ := p.Parse(q1); third[0].Text != q1 {
		t.Errorf("cached Text changed to %q", third[0].Text)
	}

	// LRU, most recent first: q1. Add q2 → q2, q1. Use q1 → q1, q2.
	// Add q3 → q3, q1: q2, the least recently used, is evicted.
	mustParse(t, p, q2)
	mustParse(t, p, q1)
	mustParse(t, p, q3)
	if p.Len() != 2 {
		t.Errorf("Len() = %d, want 2", p.Len())
	}
	h0, m0 := p.Stats()
	mustParse(t, p, q1) // hit
	mustParse(t, p, q2) // miss: evicted
	if h, m := p.Stats(); h != h0+1 || m != m0+1 {
		t.Errorf("after q1, q2: hits %d→%d, misses %d→%d; want one each", h0, h, m0, m)
	}

	// Errors are returned each time and not cached.
	for range 2 {
		if _, err := p.Parse("SELECT * FORM t"); !errors.Is(err, errs.ErrInvalidInput) {
			t.Fatalf("bad query: %v", err)
		}
	}
	if p.Len() != 2 {
		t.Errorf("Len() = %d after errors, want 2", p.Len())
	}

	// Texts above MaxCachedQueryBytes are parsed but not kept.
	big := "SELECT '" + strings.Repeat("x", MaxCachedQueryBytes) + "'"
	mustParse(t, p, big)
	mustParse(t, p, big)
	if _, ok := p.get(big); ok {
		t.Error("a text over MaxCachedQueryBytes was cached")
	}

	if NewParser(0).size != DefaultCacheSize || NewParser(-1).size != DefaultCacheSize {
		t.Error("cacheSize <= 0 does not give the default")
	}
}

func mustParse(t *testing.T, p *Parser, q string) []Statement {
	t.Helper()
	stmts, err := p.Parse(q)
	if err != nil {
		t.Fatalf("Parse(%.60q): %v", q, err)
	}
	return stmts
}

// TestParserConcurrent runs many goroutines over overlapping texts through a
// cache smaller than the set of texts (run it with -race).
func TestParserConcurrent(t *testing.T) {
	const (
		texts      = 64
		goroutines = 16
		rounds     = 300
	)
	p := NewParser(16)
	queries := make([]string, texts)
	for i := range queries {
		queries[i] = fmt.Sprintf("SELECT h, max(v) FROM cpu WHERE id = %d GROUP BY h; SELECT %d", i, i)
	}
	var wg sync.WaitGroup
	errc := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				i := (g*7 + r*r) % texts
				if r%5 == 0 {
					i %= 4 // a hot set that stays cached
				}
				stmts, err := p.Parse(queries[i])
				if err != nil {
					errc <- err
					return
				}
				want := fmt.Sprintf("SELECT %d", i)
				if len(stmts) != 2 || stmts[1].Text != want {
					errc <- fmt.Errorf("text %d: got %+v", i, stmts)
					return
				}
				if id, _ := IntConst(stmts[1].Node.GetSelectStmt().GetTargetList()[0].GetResTarget().GetVal()); id != int64(i) {
					errc <- fmt.Errorf("text %d: tree says %d", i, id)
					return
				}
				if r%50 == 0 {
					p.Stats()
					p.Len()
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	h, m := p.Stats()
	if h+m != goroutines*rounds {
		t.Errorf("hits %d + misses %d != %d calls", h, m, goroutines*rounds)
	}
	if h == 0 || m < texts {
		t.Errorf("hits %d, misses %d: cache not used as expected", h, m)
	}
	if p.Len() > 16 {
		t.Errorf("Len() = %d, cache grew past its size 16", p.Len())
	}
}

func BenchmarkParserCached(b *testing.B) {
	// go test -run '^$' -bench ParserCached ./sql/
	p := NewParser(0)
	q := realQueries[2]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}
