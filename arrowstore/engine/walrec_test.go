package engine

import (
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/arrowstore/membuf"
)

// TestRowsRecordRoundTrip encodes rows with every value encoding and
// checks the decoded rows bit for bit.
func TestRowsRecordRoundTrip(t *testing.T) {
	mem := memory.DefaultAllocator
	negZero := math.Copysign(0, -1)
	floatCases := map[string][]float64{
		"int8":    {0, 1, -128, 127},
		"int16":   {0, 300, -32768},
		"int32":   {1 << 20, -(1 << 31)},
		"raw":     {0.5, math.NaN(), math.Inf(1), negZero, math.MaxFloat64},
		"negzero": {negZero, 1},
	}
	for name, vals := range floatCases {
		t.Run(name, func(t *testing.T) {
			n := len(vals)
			fb := array.NewFloat64Builder(mem)
			ib := array.NewInt64Builder(mem)
			bb := array.NewBooleanBuilder(mem)
			sb := array.NewStringBuilder(mem)
			rows := &membuf.Rows{N: n}
			for i, v := range vals {
				fb.Append(v)
				if i == 1 {
					ib.AppendNull()
					bb.AppendNull()
					sb.AppendNull()
				} else {
					ib.Append(int64(v) * 1000003)
					bb.Append(i%2 == 0)
					sb.Append(string(rune('a' + i)))
				}
				rows.Time = append(rows.Time, int64(i)*-7+math.MaxInt64/2)
				rows.SID = append(rows.SID, uint32(i*70000))
			}
			rows.Cols = []membuf.Col{
				{Slot: 0, Type: arrowstore.TypeFloat, Arr: fb.NewArray()},
				{Slot: 3, Type: arrowstore.TypeInt, Arr: ib.NewArray()},
				{Slot: 1, Type: arrowstore.TypeBool, Arr: bb.NewArray()},
				{Slot: 2, Type: arrowstore.TypeString, Arr: sb.NewArray()},
			}
			parts, _ := encodeRows(7, rows, nil)
			var payload []byte
			for _, p := range parts {
				payload = append(payload, p...)
			}
			d := &dec{b: payload}
			if d.u8() != recRows {
				t.Fatal("type byte")
			}
			id, got, err := decodeRows(d)
			if err != nil || id != 7 {
				t.Fatalf("decode: %v id %d", err, id)
			}
			for i := 0; i < n; i++ {
				if got.Time[i] != rows.Time[i] || got.SID[i] != rows.SID[i] {
					t.Fatalf("row %d time/sid", i)
				}
			}
			for c := range rows.Cols {
				w, g := rows.Cols[c], got.Cols[c]
				if w.Slot != g.Slot || w.Type != g.Type || !array.Equal(w.Arr, g.Arr) && w.Type != arrowstore.TypeFloat {
					t.Fatalf("column %d: %v vs %v", c, w.Arr, g.Arr)
				}
				if w.Type == arrowstore.TypeFloat {
					wv, gv := w.Arr.(*array.Float64).Float64Values(), g.Arr.(*array.Float64).Float64Values()
					for i := range wv {
						if math.Float64bits(wv[i]) != math.Float64bits(gv[i]) {
							t.Fatalf("float %d: %v vs %v", i, wv[i], gv[i])
						}
					}
				}
			}
			// every truncation is detected as corrupt, never a panic
			for cut := 1; cut < len(payload); cut++ {
				d := &dec{b: payload[1:cut]}
				if _, _, err := decodeRows(d); err == nil {
					t.Fatalf("truncated at %d decoded", cut)
				}
			}
		})
	}
	_ = arrow.PrimitiveTypes.Float64
}
