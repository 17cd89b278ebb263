package exec

import (
	"container/heap"
	"context"
	"io"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// topNOp is ORDER BY ... LIMIT n [OFFSET m] without sorting everything:
// a heap keeps the n+m rows that sort first (ties keep the earlier input
// row, as a stable sort would); batches that hold no kept row are released.
type topNOp struct {
	in    Operator
	keys  []planner.SortKey
	types []functions.Type
	k     int
	skip  int64
	mem   *Budget
	done  bool

	batches []arrow.RecordBatch
	vecs    [][]functions.Vec // per batch, per key
	live    []int
	h       rowHeap
}

type heapRow struct {
	rowRef
	seq int64 // input order, for stability
}

// rowHeap is a max-heap: the root is the row that sorts last among the kept.
type rowHeap struct {
	rows []heapRow
	less func(a, b heapRow) bool // a sorts before b
}

func (h *rowHeap) Len() int           { return len(h.rows) }
func (h *rowHeap) Less(i, j int) bool { return h.less(h.rows[j], h.rows[i]) }
func (h *rowHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *rowHeap) Push(x any)         { h.rows = append(h.rows, x.(heapRow)) }
func (h *rowHeap) Pop() any {
	r := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return r
}

func (t *topNOp) Schema() *arrow.Schema { return t.in.Schema() }
func (t *topNOp) Close() error {
	for _, b := range t.batches {
		if b != nil {
			b.Release()
		}
	}
	t.batches = nil
	return t.in.Close()
}

func (t *topNOp) before(a, b heapRow) bool {
	for k, key := range t.keys {
		if c := compareAcross(t.vecs[a.batch][k], a.row, t.vecs[b.batch][k], b.row, key.Desc, key.NullsFirst); c != 0 {
			return c < 0
		}
	}
	return a.seq < b.seq
}

// drop forgets a kept row; its batch goes once nothing in it is kept
// (the batch being read is checked when it is done).
func (t *topNOp) drop(r heapRow, current int) {
	t.live[r.batch]--
	if t.live[r.batch] == 0 && r.batch != current && t.batches[r.batch] != nil {
		t.batches[r.batch].Release()
		t.batches[r.batch] = nil
	}
}

func (t *topNOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if t.done {
		return nil, io.EOF
	}
	t.done = true
	t.h.less = t.before
	var seq int64
	for {
		rec, err := t.in.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		bi := len(t.batches)
		t.batches = append(t.batches, rec)
		t.live = append(t.live, 0)
		vs := make([]functions.Vec, len(t.keys))
		for k, key := range t.keys {
			vs[k] = functions.ArrVec(rec.Column(key.Col), t.types[key.Col])
		}
		t.vecs = append(t.vecs, vs)
		if err := t.mem.Reserve(arrowstore.RecordBytes(rec)); err != nil {
			return nil, err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r := heapRow{rowRef: rowRef{batch: bi, row: i}, seq: seq}
			seq++
			if t.h.Len() < t.k {
				heap.Push(&t.h, r)
				t.live[bi]++
				continue
			}
			if t.k == 0 || !t.before(r, t.h.rows[0]) {
				continue
			}
			t.drop(t.h.rows[0], bi)
			t.h.rows[0] = r
			t.live[bi]++
			heap.Fix(&t.h, 0)
		}
		if t.live[bi] == 0 {
			rec.Release()
			t.batches[bi] = nil
		}
	}
	rows := slices.Clone(t.h.rows)
	slices.SortFunc(rows, func(a, b heapRow) int {
		if t.before(a, b) {
			return -1
		}
		if t.before(b, a) {
			return 1
		}
		return 0
	})
	if int64(len(rows)) <= t.skip {
		return nil, io.EOF
	}
	rows = rows[t.skip:]
	refs := make([]rowRef, len(rows))
	for i, r := range rows {
		refs[i] = r.rowRef
	}
	return gatherRows(t.in.Schema(), t.batches, refs), nil
}
