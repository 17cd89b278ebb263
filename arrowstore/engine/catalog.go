package engine

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/zeebo/xxh3"

	"github.com/ugnos/ugnos/arrowstore"
)

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// tagHash is one tag's contribution to a series hash. A series hash is the
// sum of its present tags' contributions, so it does not depend on the
// order in which tags arrive.
func tagHash(slot int, v string) uint64 {
	return mix64(xxh3.HashString(v) ^ (uint64(slot+1) * 0x9E3779B97F4A7C15))
}

// seriesCatalog maps tag sets to series ids and tag values to series (the
// tag index). Series ids are dense, assigned in creation order.
type seriesCatalog struct {
	mu     sync.RWMutex
	tags   [][]string // by sid: value by tag slot, "" absent (may be shorter than the schema)
	ntags  []uint16   // by sid: present tags
	hashes []uint64   // by sid
	byHash map[uint64]uint32
	next   []uint32              // by sid: sid+1 of the next series with the same hash
	post   []map[string]*posting // by tag slot: value -> series
	total  *atomic.Int64         // the tenant's series count (tenant.series); nil: none
}

// posting is the tag index entry of one tag value.
type posting struct {
	val  string   // interned value, shared by every series with it
	sids []uint32 // ascending
}

func (c *seriesCatalog) count() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.tags)
}

func (c *seriesCatalog) tag(sid uint32, slot int) string {
	t := c.tags[sid]
	if slot < len(t) {
		return t[slot]
	}
	return ""
}

// create adds a series. Caller holds mu exclusively. tags is owned by the
// catalog afterwards; its values are interned through the tag index.
func (c *seriesCatalog) create(h uint64, tags []string) uint32 {
	if c.byHash == nil {
		c.byHash = make(map[uint64]uint32)
	}
	sid := uint32(len(c.tags))
	if c.total != nil {
		c.total.Add(1)
	}
	n := 0
	for slot, v := range tags {
		if v == "" {
			continue
		}
		n++
		for len(c.post) <= slot {
			c.post = append(c.post, make(map[string]*posting))
		}
		p := c.post[slot][v]
		if p == nil {
			p = &posting{val: string([]byte(v))} // own copy
			c.post[slot][p.val] = p
		}
		p.sids = append(p.sids, sid)
		tags[slot] = p.val
	}
	for len(tags) > 0 && tags[len(tags)-1] == "" {
		tags = tags[:len(tags)-1]
	}
	c.tags = append(c.tags, slices.Clip(tags))
	c.ntags = append(c.ntags, uint16(n))
	c.hashes = append(c.hashes, h)
	c.next = append(c.next, 0)
	if f := c.byHash[h]; f != 0 {
		s := f - 1
		for c.next[s] != 0 {
			s = c.next[s] - 1
		}
		c.next[s] = sid + 1
	} else {
		c.byHash[h] = sid + 1
	}
	return sid
}

// resolvedFilter is a Filter with its tag slot (-1: the table has no such
// tag, so every series lacks it).
type resolvedFilter struct {
	slot int
	op   arrowstore.FilterOp
	vals []string
}

// match returns the sorted ids of the series passing every filter; nil
// means no filter (every series).
func (c *seriesCatalog) match(fs []resolvedFilter) []uint32 {
	if len(fs) == 0 {
		return nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []uint32
	for i, f := range fs {
		set := c.matchOne(f)
		if i == 0 {
			out = set
		} else {
			out = intersect(out, set)
		}
		if len(out) == 0 {
			return []uint32{}
		}
	}
	return out
}

func (c *seriesCatalog) matchOne(f resolvedFilter) []uint32 {
	wantsAbsent := false
	for _, v := range f.vals {
		if v == "" {
			wantsAbsent = true
		}
	}
	switch f.op {
	case arrowstore.OpEq, arrowstore.OpIn:
		if !wantsAbsent && f.slot >= 0 {
			var out []uint32
			if f.slot < len(c.post) {
				for _, v := range f.vals {
					if p := c.post[f.slot][v]; p != nil {
						out = union(out, p.sids)
					}
				}
			}
			if out == nil {
				out = []uint32{}
			}
			return out
		}
	}
	out := []uint32{}
	for sid := range c.tags {
		v := ""
		if f.slot >= 0 {
			v = c.tag(uint32(sid), f.slot)
		}
		in := slices.Contains(f.vals, v)
		var ok bool
		switch f.op {
		case arrowstore.OpEq, arrowstore.OpIn:
			ok = in
		default: // NotEq, NotIn: an absent tag is NULL and never matches
			ok = v != "" && !in
		}
		if ok {
			out = append(out, uint32(sid))
		}
	}
	return out
}

func union(a, b []uint32) []uint32 {
	if len(a) == 0 {
		return append([]uint32(nil), b...)
	}
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func intersect(a, b []uint32) []uint32 {
	out := make([]uint32, 0, min(len(a), len(b)))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// truncate removes the series with ids >= first (the newest), undoing
// create. Caller holds mu exclusively.
func (c *seriesCatalog) truncate(first uint32) {
	if c.total != nil && uint32(len(c.tags)) > first {
		c.total.Add(-int64(uint32(len(c.tags)) - first))
	}
	for sid := uint32(len(c.tags)); sid > first; {
		sid--
		for slot, v := range c.tags[sid] {
			if v == "" {
				continue
			}
			p := c.post[slot][v]
			p.sids = p.sids[:len(p.sids)-1]
			if len(p.sids) == 0 {
				delete(c.post[slot], v)
			}
		}
		h := c.hashes[sid]
		if c.byHash[h] == sid+1 {
			delete(c.byHash, h)
		} else {
			for s := c.byHash[h] - 1; ; s = c.next[s] - 1 {
				if c.next[s] == sid+1 {
					c.next[s] = 0
					break
				}
			}
		}
		c.tags, c.ntags, c.hashes, c.next = c.tags[:sid], c.ntags[:sid], c.hashes[:sid], c.next[:sid]
	}
}
