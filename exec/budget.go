package exec

import (
	"sync/atomic"

	"github.com/ugnos/ugnos/errs"
)

// Budget bounds the memory one query may hold in operators that
// materialise (sort, window, hash join, aggregation, DISTINCT, set
// operations, subqueries). A query over it fails with SQLSTATE 53200; the
// server and other queries go on. A nil *Budget is unlimited.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes (<= 0: unlimited).
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		return nil
	}
	return &Budget{limit: limit}
}

// Reserve accounts n more bytes.
func (b *Budget) Reserve(n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if u := b.used.Add(n); u > b.limit {
		return errs.New(errs.ErrInvalidInput, "53200", "out of memory: the query needs more than its limit of %d MiB (query memory limit)", b.limit>>20)
	}
	return nil
}

// Used is what has been reserved.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}
