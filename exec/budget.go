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
	name  string // the limit, for the message; "" the server's
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes (<= 0: unlimited).
func NewBudget(limit int64) *Budget {
	if limit <= 0 {
		return nil
	}
	return &Budget{limit: limit}
}

// NewNamedBudget is NewBudget for a limit the error names (e.g. a
// database's quota: `ugnos.max_query_memory of database "acme" (1 MiB)`).
func NewNamedBudget(limit int64, name string) *Budget {
	b := NewBudget(limit)
	if b != nil {
		b.name = name
	}
	return b
}

// Reserve accounts n more bytes.
func (b *Budget) Reserve(n int64) error {
	if b == nil || n <= 0 {
		return nil
	}
	if u := b.used.Add(n); u > b.limit {
		if b.name != "" {
			return errs.New(errs.ErrInvalidInput, "53200", "out of memory: the query needs more than %s", b.name)
		}
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
