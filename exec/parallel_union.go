package exec

import (
	"context"
	"io"
	"runtime"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"golang.org/x/sync/errgroup"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/bufpool"
	"github.com/ugnos/ugnos/planner"
)

// An aggregate over a UNION ALL (a continuous aggregate's view: the
// materialization's scans and small raw parts) runs like one over a
// scan: every branch feeds the same per-worker partial aggregates. A
// branch that is a scan under column-only projections (and filters) is
// split across the workers and its batches are only re-laid out (no
// copy, tags stay dictionary-encoded); any other branch runs as is and
// its batches are shared out.

// unionInput is one branch as a worker reads it.
type unionInput struct {
	part    Operator      // this worker's part of a scan
	shared  *sharedSource // or batches shared by all workers
	filters []evaluator   // in the branch's own layout
	remap   []int         // union column i is the branch's column remap[i]
}

// unionLeaf is a branch found under the union.
type unionLeaf struct {
	node  planner.Node
	scan  *planner.Scan // a scan under projections and filters, or nil
	preds []planner.Expr
	remap []int
}

// unionLeaves walks n (whose column i is wanted as remap[i]) through
// column-only projections and UNION ALL.
func unionLeaves(n planner.Node, remap []int, out []unionLeaf, sawUnion *bool) []unionLeaf {
	switch x := n.(type) {
	case *planner.Project:
		next := make([]int, len(remap))
		for i, r := range remap {
			c, ok := x.Exprs[r].(*planner.Col)
			if !ok {
				return append(out, unionLeaf{node: n, remap: remap})
			}
			next[i] = c.Idx
		}
		return unionLeaves(x.Input, next, out, sawUnion)
	case *planner.SetOp:
		if x.Op != "union" || !x.All {
			return append(out, unionLeaf{node: n, remap: remap})
		}
		*sawUnion = true
		out = unionLeaves(x.Left, remap, out, sawUnion)
		return unionLeaves(x.Right, remap, out, sawUnion)
	}
	var preds []planner.Expr
	node := n
	for {
		f, ok := node.(*planner.Filter)
		if !ok {
			break
		}
		preds = append([]planner.Expr{f.Pred}, preds...)
		node = f.Input
	}
	if scan, ok := node.(*planner.Scan); ok {
		return append(out, unionLeaf{node: n, scan: scan, preds: preds, remap: remap})
	}
	return append(out, unionLeaf{node: n, remap: remap})
}

// newUnionAggregate applies to an aggregate whose input (under filters)
// is a UNION ALL; preds are the filters above the union.
func newUnionAggregate(n *planner.Aggregate, input planner.Node, preds []planner.Expr, env Env) (Operator, bool, error) {
	workers := runtime.GOMAXPROCS(0)
	ident := make([]int, len(input.Columns()))
	for i := range ident {
		ident[i] = i
	}
	saw := false
	leaves := unionLeaves(input, ident, nil, &saw)
	if !saw {
		return nil, false, nil
	}
	op := &unionAggOp{schema: SchemaOf(n.Out), inputs: make([][]unionInput, workers), cols: input.Columns()}
	fail := func(err error) (Operator, bool, error) {
		op.Close()
		return nil, false, err
	}
	for _, l := range leaves {
		if l.scan != nil {
			parts, err := newScanParts(l.scan, env, workers, true)
			if err != nil {
				return fail(err)
			}
			for w := range workers {
				in := unionInput{remap: l.remap}
				for _, p := range l.preds {
					in.filters = append(in.filters, compile(p, env))
				}
				if len(parts) == workers {
					in.part = parts[w]
				} else if w == 0 {
					in.shared = &sharedSource{in: parts[0]}
				} else {
					in.shared = op.inputs[0][len(op.inputs[0])-1].shared
				}
				op.inputs[w] = append(op.inputs[w], in)
			}
			continue
		}
		src, err := Build(l.node, env)
		if err != nil {
			return fail(err)
		}
		sh := &sharedSource{in: src}
		for w := range workers {
			op.inputs[w] = append(op.inputs[w], unionInput{shared: sh, remap: l.remap})
		}
	}
	for range workers {
		var fs []evaluator
		for _, p := range preds {
			fs = append(fs, compile(p, env))
		}
		t, err := newAggTable(n, env)
		if err != nil {
			return fail(err)
		}
		op.filters = append(op.filters, fs)
		op.tables = append(op.tables, t)
	}
	return op, true, nil
}

type unionAggOp struct {
	schema  *arrow.Schema
	cols    []planner.Column
	inputs  [][]unionInput // per worker
	filters [][]evaluator  // per worker: the filters above the union
	tables  []*aggTable
	done    bool
}

func (p *unionAggOp) Schema() *arrow.Schema { return p.schema }
func (p *unionAggOp) Close() error {
	closed := map[any]bool{}
	for _, ins := range p.inputs {
		for _, in := range ins {
			switch {
			case in.part != nil:
				in.part.Close()
			case in.shared != nil && !closed[in.shared]:
				closed[in.shared] = true
				in.shared.in.Close()
			}
		}
	}
	return nil
}

// relayout picks the union's columns out of a branch's batch (no copy).
func relayout(rec arrow.RecordBatch, remap []int, cols []planner.Column) arrow.RecordBatch {
	fields := make([]arrow.Field, len(remap))
	arrs := make([]arrow.Array, len(remap))
	for i, r := range remap {
		arrs[i] = rec.Column(r)
		fields[i] = arrow.Field{Name: cols[i].Name, Type: arrs[i].DataType(), Nullable: true}
	}
	out := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, rec.NumRows())
	rec.Release()
	return out
}

func (p *unionAggOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if p.done {
		return nil, io.EOF
	}
	p.done = true
	g, gctx := errgroup.WithContext(ctx)
	for w := range p.tables {
		g.Go(func() (err error) {
			defer errs.Recover(&err) // a panic fails the query, not the process
			var sel []int32
			defer func() { bufpool.Put(sel) }()
			for _, in := range p.inputs[w] {
				for {
					var rec arrow.RecordBatch
					var err error
					if in.part != nil {
						rec, err = in.part.Next(gctx)
					} else {
						rec, err = in.shared.next(gctx)
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
					if rec, err = applyFilters(in.filters, rec, &sel); err != nil {
						return err
					}
					if rec == nil {
						continue
					}
					rec = relayout(rec, in.remap, p.cols)
					if rec, err = applyFilters(p.filters[w], rec, &sel); err != nil {
						return err
					}
					if rec == nil {
						continue
					}
					err = p.tables[w].consume(rec)
					rec.Release()
					if err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	return mergePartials(g.Wait(), p.tables, p.schema)
}
