package engine

import (
	"container/list"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore/membuf"
)

// colCache keeps decoded columns of segment row groups (least recently
// used out first) so queries over data on disk do not decode and
// decompress the same pages again. Arrays are shared and immutable; an
// evicted one stays valid for the scans still holding it.
type colCache struct {
	mu    sync.Mutex
	limit int64
	size  int64
	lru   *list.List // of *cacheEntry, most recent first
	byKey map[cacheKey]*list.Element

	hits, misses int64
}

type cacheKey struct {
	seg *segFile
	rg  int
	col int // file column; 0 is time
}

type cacheEntry struct {
	key  cacheKey
	arr  arrow.Array
	size int64
}

func newColCache(limit int64) *colCache {
	return &colCache{limit: limit, lru: list.New(), byKey: map[cacheKey]*list.Element{}}
}

func (c *colCache) get(k cacheKey) arrow.Array {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		c.lru.MoveToFront(el)
		c.hits++
		return el.Value.(*cacheEntry).arr
	}
	c.misses++
	return nil
}

func (c *colCache) put(k cacheKey, a arrow.Array) {
	size := membuf.ArrayBytes(a)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.limit <= 0 || size > c.limit/4 {
		return
	}
	if _, ok := c.byKey[k]; ok {
		return
	}
	c.byKey[k] = c.lru.PushFront(&cacheEntry{key: k, arr: a, size: size})
	c.size += size
	for c.size > c.limit {
		el := c.lru.Back()
		e := el.Value.(*cacheEntry)
		c.lru.Remove(el)
		delete(c.byKey, e.key)
		c.size -= e.size
	}
}

// reset forgets everything.
func (c *colCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Init()
	c.byKey = map[cacheKey]*list.Element{}
	c.size = 0
}

// drop forgets the columns of segments no longer live.
func (c *colCache) drop(gone map[*segFile]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.lru.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*cacheEntry); gone[e.key.seg] {
			c.lru.Remove(el)
			delete(c.byKey, e.key)
			c.size -= e.size
		}
		el = next
	}
}

// CacheStats describes the column cache.
type CacheStats struct {
	Bytes, Limit int64
	Hits, Misses int64
}

func (c *colCache) stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Bytes: c.size, Limit: c.limit, Hits: c.hits, Misses: c.misses}
}
