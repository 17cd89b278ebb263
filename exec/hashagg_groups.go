package exec

import (
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/functions"
)

// groupVals holds the values of one group column, one per group, in typed
// slices: a new group boxes no value.
type groupVals struct {
	t     functions.Type
	n     int
	ints  []int64   // TInt, TTimestamp
	flts  []float64 // TFloat
	strs  []string  // TText
	bools []bool    // TBool
	anys  []any     // other types, as Vec.Value gives them
	nulls []int     // groups whose value is NULL
}

// add appends row i of v as the next group's value.
func (g *groupVals) add(v functions.Vec, i int) {
	null := v.IsNull(i)
	if null {
		g.nulls = append(g.nulls, g.n)
	}
	g.n++
	switch g.t {
	case functions.TInt, functions.TTimestamp:
		x := int64(0)
		if !null {
			x = v.Int(i)
		}
		g.ints = append(g.ints, x)
	case functions.TFloat:
		x := 0.0
		if !null {
			x = v.Float(i)
		}
		g.flts = append(g.flts, x)
	case functions.TText:
		x := ""
		if !null {
			x = v.Str(i)
		}
		g.strs = append(g.strs, x)
	case functions.TBool:
		g.bools = append(g.bools, !null && v.Bool(i))
	default:
		g.anys = append(g.anys, v.Value(i))
	}
}

// array returns the values as an array (over the slices, not copied).
func (g *groupVals) array() arrow.Array {
	valid := functions.NewValid(g.n)
	for _, i := range g.nulls {
		valid.SetNull(i)
	}
	switch g.t {
	case functions.TInt:
		return functions.NewInt(g.ints, valid)
	case functions.TTimestamp:
		return functions.NewTimestamp(g.ints, valid)
	case functions.TFloat:
		return functions.NewFloat(g.flts, valid)
	case functions.TText:
		return functions.NewText(g.strs, valid)
	case functions.TBool:
		return functions.NewBool(g.bools, valid)
	}
	return functions.NewOf(g.t, g.anys)
}

// maxPooledGroups bounds the maps kept for reuse, so that one query with
// very many groups does not pin their memory.
const maxPooledGroups = 1 << 16

// groupMaps recycles the group maps of aggregate tables: a cleared map
// keeps its memory, so the next query's groups go to memory that is
// already touched instead of fresh pages.
type groupMaps[K comparable] struct{ p sync.Pool }

var (
	fixedMaps groupMaps[[4]uint64]
	intMaps   groupMaps[int64]
)

func (g *groupMaps[K]) get() map[K]uint32 {
	if m, ok := g.p.Get().(map[K]uint32); ok {
		return m
	}
	return map[K]uint32{}
}

func (g *groupMaps[K]) put(m map[K]uint32) {
	if m == nil || len(m) > maxPooledGroups {
		return
	}
	clear(m)
	g.p.Put(m)
}
