package exec

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/planner"
)

// OpStats are one operator's figures for EXPLAIN ANALYZE.
type OpStats struct {
	Rows    int64
	Batches int64
	Elapsed time.Duration // in Next, children included
	Scan    *arrowstore.ScanStats
}

// Profile collects per-plan-node figures while a query runs.
type Profile struct {
	mu  sync.Mutex
	ops map[planner.Node]*OpStats
}

// NewProfile returns an empty profile.
func NewProfile() *Profile { return &Profile{ops: map[planner.Node]*OpStats{}} }

// Get returns the figures of a node (created on first use).
func (p *Profile) Get(n planner.Node) *OpStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.ops[n]
	if s == nil {
		s = &OpStats{}
		p.ops[n] = s
	}
	return s
}

// Describe renders a node's figures for EXPLAIN ANALYZE.
func (p *Profile) Describe(n planner.Node) string {
	p.mu.Lock()
	s := p.ops[n]
	p.mu.Unlock()
	if s == nil {
		return "(not run separately)"
	}
	out := fmt.Sprintf("(rows=%d batches=%d time=%.3f ms)", s.Rows, s.Batches, float64(s.Elapsed.Microseconds())/1000)
	if s.Scan != nil {
		out += fmt.Sprintf(" scanned=%d storage_batches=%d pruned=%d", s.Scan.RowsScanned.Load(), s.Scan.BatchesTotal.Load(), s.Scan.BatchesPruned.Load())
	}
	return out
}

// profiledOp measures an operator.
type profiledOp struct {
	Operator
	s *OpStats
}

func (p *profiledOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	start := time.Now()
	rec, err := p.Operator.Next(ctx)
	p.s.Elapsed += time.Since(start)
	if err == nil {
		p.s.Rows += rec.NumRows()
		p.s.Batches++
	}
	return rec, err
}
