package exec

import (
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/internal/bufpool"
	"github.com/ugnos/ugnos/planner"
)

// sharedSource hands the batches of one operator to several workers (used
// when a scan cannot be split, and under EXPLAIN ANALYZE).
type sharedSource struct {
	mu sync.Mutex
	in Operator
}

// next returns a batch the caller owns (retained), or io.EOF.
func (s *sharedSource) next(ctx context.Context) (arrow.RecordBatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in.Next(ctx)
}

// parallelAggOp runs a hash aggregate over a scan (and filters) with one
// partial aggregate per worker, then merges the partials: the exchange of
// the plan "scan → filter → partial aggregate ×N → merge".
type parallelAggOp struct {
	src     *sharedSource // either one source for all workers
	srcs    []Operator    // or one scan part per worker
	schema  *arrow.Schema
	filters [][]evaluator // per worker: the filter chain, bottom first
	tables  []*aggTable
	done    bool
}

// newParallelAggregate applies when the aggregate reads a scan through
// filters only, has no DISTINCT aggregates, and more than one core is
// available.
func newParallelAggregate(n *planner.Aggregate, env Env) (Operator, bool, error) {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 {
		return nil, false, nil
	}
	for _, a := range n.Aggs {
		if a.Distinct {
			return nil, false, nil
		}
	}
	var preds []planner.Expr
	node := n.Input
	for {
		f, ok := node.(*planner.Filter)
		if !ok {
			break
		}
		preds = append([]planner.Expr{f.Pred}, preds...)
		node = f.Input
	}
	scan, ok := node.(*planner.Scan)
	if !ok {
		if env.Profile != nil {
			return nil, false, nil
		}
		return newUnionAggregate(n, node, preds, env)
	}
	op := &parallelAggOp{schema: SchemaOf(n.Out)}
	if env.Profile != nil {
		in, err := newScan(scan, env)
		if err != nil {
			return nil, false, err
		}
		op.src = &sharedSource{in: &profiledOp{Operator: in, s: env.Profile.Get(scan)}}
	} else {
		// each worker reads its own part and is done with a batch (its
		// keys and values are copied into the hash table) before the next
		parts, err := newScanParts(scan, env, workers, true)
		if err != nil {
			return nil, false, err
		}
		if len(parts) == workers {
			op.srcs = parts
		} else {
			op.src = &sharedSource{in: parts[0]}
		}
	}
	for w := 0; w < workers; w++ {
		var fs []evaluator
		for _, p := range preds {
			fs = append(fs, compile(p, env))
		}
		t, err := newAggTable(n, env)
		if err != nil {
			return nil, false, err
		}
		op.filters = append(op.filters, fs)
		op.tables = append(op.tables, t)
	}
	return op, true, nil
}

func (p *parallelAggOp) Schema() *arrow.Schema { return p.schema }
func (p *parallelAggOp) Close() error {
	if p.src != nil {
		return p.src.in.Close()
	}
	for _, s := range p.srcs {
		s.Close()
	}
	return nil
}

// next gives worker w its next batch.
func (p *parallelAggOp) next(ctx context.Context, w int) (arrow.RecordBatch, error) {
	if p.src != nil {
		return p.src.next(ctx)
	}
	return p.srcs[w].Next(ctx)
}

func (p *parallelAggOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if p.done {
		return nil, io.EOF
	}
	p.done = true
	g, gctx := errgroup.WithContext(ctx)
	for w := range p.tables {
		g.Go(func() (err error) {
			defer errs.Recover(&err) // a panic fails the query, not the process
			var sel []int32          // the filters' selection vector
			defer func() { bufpool.Put(sel) }()
			for {
				rec, err := p.next(gctx, w)
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
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
		})
	}
	return mergePartials(g.Wait(), p.tables, p.schema)
}

// mergePartials ends a parallel aggregate once its workers are done
// (err: the first error of theirs): the partial tables merge into the
// first, which gives the result.
func mergePartials(err error, tables []*aggTable, schema *arrow.Schema) (arrow.RecordBatch, error) {
	for _, t := range tables {
		t.putScratch()
	}
	if err != nil {
		return nil, err
	}
	for _, t := range tables[1:] {
		err := tables[0].merge(t)
		t.release()
		if err != nil {
			return nil, err
		}
	}
	if err := tables[0].finish(); err != nil {
		return nil, err
	}
	out := tables[0].result(schema)
	tables[0].release()
	return out, nil
}

// applyFilters applies a filter chain to a batch; nil: no row is left.
func applyFilters(fs []evaluator, rec arrow.RecordBatch, sel *[]int32) (arrow.RecordBatch, error) {
	var err error
	for _, f := range fs {
		if rec, err = applyFilter(f, rec, sel); err != nil || rec == nil {
			return nil, err
		}
	}
	return rec, nil
}
