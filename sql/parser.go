package sql

import (
	"container/list"
	"strings"
	"sync"
	"sync/atomic"
)

// DefaultCacheSize is the number of query texts a Parser caches when
// NewParser is given a size <= 0.
const DefaultCacheSize = 1024

// MaxCachedQueryBytes is the longest query text a Parser caches. Longer
// texts (bulk INSERTs, generated queries) are parsed every time, so the
// cache stays within about cacheSize × MaxCachedQueryBytes of text plus
// the trees built from it.
const MaxCachedQueryBytes = 64 << 10

// Parser parses SQL text and caches the results in an LRU keyed by the full
// query text, so prepared statements and dashboards that send the same text
// again are parsed once. Only successful parses are cached.
//
// A Parser is safe for concurrent use. The zero value is not usable; call
// NewParser.
type Parser struct {
	size   int
	hits   atomic.Uint64
	misses atomic.Uint64

	mu    sync.Mutex
	order *list.List               // front: most recently used; values are *cacheEntry
	items map[string]*list.Element // query text → element of order
}

type cacheEntry struct {
	query string
	stmts []Statement
}

// NewParser returns a Parser that caches up to cacheSize query texts;
// cacheSize <= 0 means DefaultCacheSize.
func NewParser(cacheSize int) *Parser {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	return &Parser{
		size:  cacheSize,
		order: list.New(),
		items: make(map[string]*list.Element, cacheSize),
	}
}

// Parse parses query like the package-level Parse, answering a repeated text
// from the cache.
//
// The returned slice is the caller's own, but the statements' Node trees
// are shared with every other caller that parsed the same text: treat them
// as read-only (do not modify, reset or reuse them; proto.Clone a tree first
// to change it).
func (p *Parser) Parse(query string) ([]Statement, error) {
	if stmts, ok := p.get(query); ok {
		p.hits.Add(1)
		return stmts, nil
	}
	p.misses.Add(1)
	if len(query) > MaxCachedQueryBytes {
		return Parse(query)
	}
	// Own the text: a caller may pass a string that aliases a buffer it
	// reuses, and both the cache key and Statement.Text keep it.
	query = strings.Clone(query)
	stmts, err := Parse(query)
	if err != nil {
		return nil, err
	}
	p.put(query, stmts)
	return append([]Statement(nil), stmts...), nil
}

// Stats returns how many Parse calls were answered from the cache (hits)
// and how many had to parse (misses).
func (p *Parser) Stats() (hits, misses uint64) {
	return p.hits.Load(), p.misses.Load()
}

// Len returns the number of query texts cached now.
func (p *Parser) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.order.Len()
}

func (p *Parser) get(query string) ([]Statement, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.items[query]
	if !ok {
		return nil, false
	}
	p.order.MoveToFront(el)
	return append([]Statement(nil), el.Value.(*cacheEntry).stmts...), true
}

func (p *Parser) put(query string, stmts []Statement) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if el, ok := p.items[query]; ok {
		// Another goroutine parsed the same text meanwhile; keep its result.
		p.order.MoveToFront(el)
		return
	}
	p.items[query] = p.order.PushFront(&cacheEntry{query: query, stmts: stmts})
	for p.order.Len() > p.size {
		oldest := p.order.Back()
		p.order.Remove(oldest)
		delete(p.items, oldest.Value.(*cacheEntry).query)
	}
}
