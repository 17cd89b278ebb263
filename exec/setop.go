package exec

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// setOp runs UNION [ALL], INTERSECT [ALL] and EXCEPT [ALL] with hash
// counting (rows compare NULL = NULL, as set operations do).
type setOp struct {
	n           *planner.SetOp
	left, right Operator
	types       []functions.Type
	schema      *arrow.Schema
	phase       int // 0: left, 1: right, 2: done
	seen        map[string]int64
	rightCount  map[string]int64
	leftN       map[string]int64
	key         []byte
	mem         *Budget
}

func newSetOp(n *planner.SetOp, l, r Operator) *setOp {
	return &setOp{n: n, left: l, right: r, types: types(n.Out), schema: SchemaOf(n.Out), seen: map[string]int64{}}
}

func (s *setOp) Schema() *arrow.Schema { return s.schema }
func (s *setOp) Close() error {
	s.left.Close()
	return s.right.Close()
}

func (s *setOp) rowKey(rec arrow.RecordBatch, i int) string {
	s.key = s.key[:0]
	for c := 0; c < int(rec.NumCols()); c++ {
		s.key = appendKey(s.key, functions.ArrVec(rec.Column(c), s.types[c]), i)
	}
	return string(s.key)
}

func (s *setOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	switch s.n.Op {
	case "union":
		return s.union(ctx)
	default:
		return s.intersectExcept(ctx)
	}
}

// union streams the left, then the right input (deduplicated unless ALL).
func (s *setOp) union(ctx context.Context) (arrow.RecordBatch, error) {
	for s.phase < 2 {
		in := s.left
		if s.phase == 1 {
			in = s.right
		}
		rec, err := in.Next(ctx)
		if err == io.EOF {
			s.phase++
			continue
		}
		if err != nil {
			return nil, err
		}
		rec = relabel(rec, s.schema)
		if s.n.All {
			return rec, nil
		}
		var sel []int32
		for i := 0; i < int(rec.NumRows()); i++ {
			k := s.rowKey(rec, i)
			if _, ok := s.seen[k]; !ok {
				s.seen[k] = 1
				sel = append(sel, int32(i))
				if err := s.mem.Reserve(int64(len(k)) + 48); err != nil {
					rec.Release()
					return nil, err
				}
			}
		}
		out := takeRecord(rec, sel)
		rec.Release()
		return out, nil
	}
	return nil, io.EOF
}

// intersectExcept counts the right input's rows, then streams the left
// rows that survive.
func (s *setOp) intersectExcept(ctx context.Context) (arrow.RecordBatch, error) {
	if s.phase == 2 {
		return nil, io.EOF
	}
	if s.rightCount == nil {
		s.rightCount = map[string]int64{}
		for {
			rec, err := s.right.Next(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			for i := 0; i < int(rec.NumRows()); i++ {
				k := s.rowKey(rec, i)
				if s.rightCount[k] == 0 {
					if err := s.mem.Reserve(int64(len(k)) + 48); err != nil {
						rec.Release()
						return nil, err
					}
				}
				s.rightCount[k]++
			}
			rec.Release()
		}
	}
	for {
		rec, err := s.left.Next(ctx)
		if err == io.EOF {
			s.phase = 2
			return nil, io.EOF
		}
		if err != nil {
			return nil, err
		}
		rec = relabel(rec, s.schema)
		var sel []int32
		for i := 0; i < int(rec.NumRows()); i++ {
			k := s.rowKey(rec, i)
			emitted := s.seen[k] // rows of this value already output
			r := s.rightCount[k]
			var keep bool
			switch {
			case s.n.Op == "intersect" && s.n.All:
				keep = emitted < r
			case s.n.Op == "intersect":
				keep = r > 0 && emitted == 0
			case s.n.All: // except all: output left count minus right count
				keep = s.leftSeen(k) > r
			default: // except
				keep = r == 0 && emitted == 0
			}
			if keep {
				s.seen[k]++
				sel = append(sel, int32(i))
			}
		}
		out := takeRecord(rec, sel)
		rec.Release()
		if out.NumRows() > 0 {
			return out, nil
		}
		out.Release()
	}
}

// leftSeen counts the left rows of a value seen so far (EXCEPT ALL).
func (s *setOp) leftSeen(k string) int64 {
	if s.leftN == nil {
		s.leftN = map[string]int64{}
	}
	s.leftN[k]++
	return s.leftN[k]
}

// relabel gives a batch the set operation's schema (names from the left).
func relabel(rec arrow.RecordBatch, schema *arrow.Schema) arrow.RecordBatch {
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		cols[i] = rec.Column(i)
	}
	out := array.NewRecordBatch(schema, cols, rec.NumRows())
	rec.Release()
	return out
}
