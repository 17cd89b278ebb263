package exec

import (
	"context"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// distinctOnOp computes DISTINCT ON (k...) ... ORDER BY k..., rest... without
// sorting its whole input: it keeps, per key, the row that sorts first by
// the rest of the ORDER BY (the first such row on ties, as a stable sort
// would), then sorts only those rows. Input batches that no longer hold a
// kept row are released as it goes.
type distinctOnOp struct {
	mem   *Budget
	in    Operator
	on    []int
	keys  []planner.SortKey // the full ORDER BY
	types []functions.Type
	done  bool
}

// rowRef is a row of one of an operator's retained input batches.
type rowRef struct {
	batch int
	row   int
}

// gatherRows copies the rows refs of batches, in the order of refs, into
// one batch (nil when refs is empty). Consecutive refs into the same
// batch are taken together.
func gatherRows(schema *arrow.Schema, batches []arrow.RecordBatch, refs []rowRef) arrow.RecordBatch {
	var parts []arrow.RecordBatch
	for i := 0; i < len(refs); {
		j := i
		var idx []int32
		for ; j < len(refs) && refs[j].batch == refs[i].batch; j++ {
			idx = append(idx, int32(refs[j].row))
		}
		parts = append(parts, takeRecord(batches[refs[i].batch], idx))
		i = j
	}
	if len(parts) == 0 {
		return nil
	}
	return concat(schema, parts)
}

func (d *distinctOnOp) Schema() *arrow.Schema { return d.in.Schema() }
func (d *distinctOnOp) Close() error          { return d.in.Close() }

func (d *distinctOnOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if d.done {
		return nil, io.EOF
	}
	d.done = true
	rest := d.keys[len(d.on):]
	var batches []arrow.RecordBatch
	var vecs [][]functions.Vec // per batch, per rest key
	var live []int             // per batch: kept rows in it
	best := map[string]int{}
	var refs []rowRef
	var key []byte
	defer func() {
		for _, b := range batches {
			if b != nil {
				b.Release()
			}
		}
	}()
	for {
		rec, err := d.in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		bi := len(batches)
		batches = append(batches, rec)
		if err := d.mem.Reserve(arrowstore.RecordBytes(rec)); err != nil {
			return nil, err
		}
		live = append(live, 0)
		rv := make([]functions.Vec, len(rest))
		for k, sk := range rest {
			rv[k] = functions.ArrVec(rec.Column(sk.Col), d.types[sk.Col])
		}
		vecs = append(vecs, rv)
		onv := make([]functions.Vec, len(d.on))
		for k, c := range d.on {
			onv[k] = functions.ArrVec(rec.Column(c), d.types[c])
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			key = key[:0]
			for _, v := range onv {
				key = appendKey(key, v, i)
			}
			j, ok := best[string(key)]
			if !ok {
				best[string(key)] = len(refs)
				refs = append(refs, rowRef{bi, i})
				live[bi]++
				continue
			}
			cur := refs[j]
			if d.before(rest, rv, i, vecs[cur.batch], cur.row) {
				live[cur.batch]--
				if live[cur.batch] == 0 && cur.batch != bi {
					batches[cur.batch].Release()
					batches[cur.batch] = nil
				}
				refs[j] = rowRef{bi, i}
				live[bi]++
			}
		}
		if live[bi] == 0 {
			batches[bi].Release()
			batches[bi] = nil
		}
	}
	// gather the kept rows batch by batch, then sort them by the ORDER BY
	slices.SortFunc(refs, func(a, b rowRef) int {
		if a.batch != b.batch {
			return a.batch - b.batch
		}
		return a.row - b.row
	})
	rec := gatherRows(d.in.Schema(), batches, refs)
	if rec == nil {
		return nil, io.EOF
	}
	return sortRecord(rec, d.keys, d.types), nil
}

// before reports whether row i (vectors a) sorts strictly before row j
// (vectors b) by the keys.
func (d *distinctOnOp) before(keys []planner.SortKey, a []functions.Vec, i int, b []functions.Vec, j int) bool {
	for k, sk := range keys {
		if c := compareAcross(a[k], i, b[k], j, sk.Desc, sk.NullsFirst); c != 0 {
			return c < 0
		}
	}
	return false
}

// compareAcross orders row i of a against row j of b (same type).
func compareAcross(a functions.Vec, i int, b functions.Vec, j int, desc, nullsFirst bool) int {
	na, nb := a.IsNull(i), b.IsNull(j)
	switch {
	case na && nb:
		return 0
	case na:
		if nullsFirst {
			return -1
		}
		return 1
	case nb:
		if nullsFirst {
			return 1
		}
		return -1
	}
	c := 0
	switch a.T {
	case functions.TFloat:
		c = functions.CompareFloat(a.Float(i), b.Float(j))
	case functions.TInt, functions.TTimestamp, functions.TDate:
		x, y := a.Int(i), b.Int(j)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	case functions.TInterval:
		c = functions.CompareInterval(a.Interval(i), b.Interval(j))
	case functions.TNumeric:
		c = functions.CompareNumericText(a.Str(i), b.Str(j))
	case functions.TBool:
		x, y := a.Bool(i), b.Bool(j)
		switch {
		case !x && y:
			c = -1
		case x && !y:
			c = 1
		}
	default:
		x, y := a.Str(i), b.Str(j)
		switch {
		case x < y:
			c = -1
		case x > y:
			c = 1
		}
	}
	if desc {
		return -c
	}
	return c
}
