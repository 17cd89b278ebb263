package exec

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/pgcatalog"
	"github.com/ugnos/ugnos/planner"
)

// Operator is a running plan node.
type Operator interface {
	Schema() *arrow.Schema
	// Next returns the next batch, or io.EOF. The caller owns the batch
	// and must Release it.
	Next(ctx context.Context) (arrow.RecordBatch, error)
	Close() error
}

// Env gives operators what they need from outside.
type Env struct {
	// Table opens a table of the statement's tenant.
	Table func(name string) (arrowstore.Table, error)
	Reg   *functions.Registry
	// Stats, if set, accumulates what scans did.
	Stats *arrowstore.ScanStats
	// Mem bounds the memory of materialising operators (nil: unlimited).
	Mem *Budget
	// Profile, if set, collects per-operator figures (EXPLAIN ANALYZE).
	Profile *Profile
	// KeepTagDictionaries lets a Project at the root of the plan pass tag
	// columns through dictionary-encoded, as the scan delivers them, instead
	// of decoding them to plain text (the PostgreSQL server then encodes
	// each tag value once per batch). The output schema says so.
	KeepTagDictionaries bool
}

// SchemaOf is the Arrow schema of a node's output (numeric columns are
// marked; see functions.FieldType).
func SchemaOf(cols []planner.Column) *arrow.Schema {
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fs[i] = c.T.Field(c.Name)
		if c.PGType != "" {
			fs[i].Metadata = arrow.NewMetadata(append(fs[i].Metadata.Keys(), pgcatalog.MetaPGType), append(fs[i].Metadata.Values(), c.PGType))
		}
	}
	return arrow.NewSchema(fs, nil)
}

// Build turns a plan into operators.
func Build(n planner.Node, env Env) (Operator, error) {
	op, err := build(n, env)
	if err != nil || env.Profile == nil {
		return op, err
	}
	return &profiledOp{Operator: op, s: env.Profile.Get(n)}, nil
}

func build(n planner.Node, env Env) (Operator, error) {
	switch n := n.(type) {
	case *planner.Scan:
		return newScan(n, env)
	case *planner.LastPoint:
		return newLastPoint(n, env)
	case *planner.Values:
		return &valuesOp{n: n, schema: SchemaOf(n.Out)}, nil
	case *planner.Series:
		return &seriesOp{n: n, schema: SchemaOf(n.Out), next: n.Start}, nil
	case *planner.Filter:
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return &filterOp{in: in, pred: compile(n.Pred, env)}, nil
	case *planner.Project:
		keep := env.KeepTagDictionaries
		env.KeepTagDictionaries = false // only the root's
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		ev := make([]evaluator, len(n.Exprs))
		for i, e := range n.Exprs {
			ev[i] = compile(e, env)
		}
		op := &projectOp{in: in, exprs: ev, schema: SchemaOf(n.Out), types: types(n.Out)}
		if keep {
			op.keepDictionaries(n)
		}
		return op, nil
	case *planner.Aggregate:
		if op, ok, err := newParallelAggregate(n, env); ok || err != nil {
			return op, err
		}
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return newAggregate(n, in, env)
	case *planner.GapFill:
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return newGapfill(n, in, env), nil
	case *planner.Sort:
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return &sortOp{in: in, keys: n.Keys, types: types(n.Input.Columns()), mem: env.Mem}, nil
	case *planner.Distinct:
		if srt, ok := n.Input.(*planner.Sort); ok && n.On != nil && leadingKeys(srt.Keys, n.On) {
			in, err := Build(srt.Input, env)
			if err != nil {
				return nil, err
			}
			return &distinctOnOp{in: in, on: n.On, keys: srt.Keys, types: types(srt.Input.Columns()), mem: env.Mem}, nil
		}
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return &distinctOp{in: in, on: n.On, types: types(n.Input.Columns()), seen: map[string]struct{}{}, mem: env.Mem}, nil
	case *planner.Window:
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return newWindow(n, in, env)
	case *planner.Join:
		l, r, err := buildPair(n.Left, n.Right, env)
		if err != nil {
			return nil, err
		}
		return newHashJoin(n, l, r, env), nil
	case *planner.AsofJoin:
		return buildAsof(n, env)
	case *planner.SetOp:
		l, r, err := buildPair(n.Left, n.Right, env)
		if err != nil {
			return nil, err
		}
		op := newSetOp(n, l, r)
		op.mem = env.Mem
		return op, nil
	case *planner.Limit:
		if srt, ok := n.Input.(*planner.Sort); ok && n.Count >= 0 && n.Count <= 1<<20 && n.Offset >= 0 && n.Offset <= 1<<20-n.Count { // no overflow
			in, err := Build(srt.Input, env)
			if err != nil {
				return nil, err
			}
			return &topNOp{in: in, keys: srt.Keys, types: types(srt.Input.Columns()), k: int(n.Count + n.Offset), skip: n.Offset, mem: env.Mem}, nil
		}
		in, err := Build(n.Input, env)
		if err != nil {
			return nil, err
		}
		return &limitOp{in: in, left: n.Count, skip: n.Offset}, nil
	}
	return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: exec: unknown plan node %T", n)
}

// buildPair builds the two inputs of a binary node.
func buildPair(left, right planner.Node, env Env) (Operator, Operator, error) {
	l, err := Build(left, env)
	if err != nil {
		return nil, nil, err
	}
	r, err := Build(right, env)
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, r, nil
}

func types(cols []planner.Column) []functions.Type {
	out := make([]functions.Type, len(cols))
	for i, c := range cols {
		out[i] = c.T
	}
	return out
}

// Drain runs an operator to the end and returns its batches.
func Drain(ctx context.Context, op Operator) ([]arrow.RecordBatch, error) {
	return drain(ctx, op, nil)
}

// drain is Drain with the batches accounted in a budget.
func drain(ctx context.Context, op Operator, mem *Budget) ([]arrow.RecordBatch, error) {
	var out []arrow.RecordBatch
	fail := func(err error) ([]arrow.RecordBatch, error) {
		for _, r := range out {
			r.Release()
		}
		return nil, err
	}
	for {
		rec, err := op.Next(ctx)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return fail(err)
		}
		out = append(out, rec)
		if err := mem.Reserve(arrowstore.RecordBytes(rec)); err != nil {
			return fail(err)
		}
	}
}

// Reader adapts an operator to an array.RecordReader; errors are reported
// by Err after Next returns false.
type Reader struct {
	ctx  context.Context
	op   Operator
	rec  arrow.RecordBatch
	err  error
	done bool
}

// NewReader wraps op; closing the reader closes op.
func NewReader(ctx context.Context, op Operator) *Reader { return &Reader{ctx: ctx, op: op} }

func (r *Reader) Retain()                        {}
func (r *Reader) Schema() *arrow.Schema          { return r.op.Schema() }
func (r *Reader) RecordBatch() arrow.RecordBatch { return r.rec }
func (r *Reader) Record() arrow.RecordBatch      { return r.rec }
func (r *Reader) Err() error                     { return r.err }

func (r *Reader) Next() bool {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.done {
		return false
	}
	for {
		rec, err := r.next()
		if err != nil {
			if err != io.EOF {
				r.err = err
			}
			r.done = true
			r.op.Close()
			return false
		}
		if rec.NumRows() == 0 {
			rec.Release()
			continue
		}
		r.rec = rec
		return true
	}
}

// next runs the operator, a panic in it becoming the statement's error.
func (r *Reader) next() (rec arrow.RecordBatch, err error) {
	defer errs.Recover(&err)
	return r.op.Next(r.ctx)
}

// Release closes the operator.
func (r *Reader) Release() {
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if !r.done {
		r.done = true
		r.op.Close()
	}
}

var _ array.RecordReader = (*Reader)(nil)

// leadingKeys reports whether the first len(on) sort keys are exactly the
// columns of on (in any order).
func leadingKeys(keys []planner.SortKey, on []int) bool {
	if len(keys) < len(on) {
		return false
	}
	for _, k := range keys[:len(on)] {
		found := false
		for _, c := range on {
			found = found || c == k.Col
		}
		if !found {
			return false
		}
	}
	return true
}
