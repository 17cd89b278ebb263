package pgwire

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestFastFloat checks the COPY float fast path against strconv on the
// decimals it takes and that it refuses the rest.
func TestFastFloat(t *testing.T) {
	for _, s := range []string{"0", "-0", "+7", "58", "0.5", ".5", "5.", "007", "1.50", "-12.375",
		"123456789012345", "0.0000000000000000000001", "99.99", "3.14159265358979"} {
		got, ok := fastFloat([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("fastFloat(%q) = %v, %v; strconv %v, %v", s, got, ok, want, err)
		}
	}
	for _, s := range []string{"", "-", ".", "1e5", "NaN", "Infinity", " 1", "1 ", "1.2.3", "--1", "1234567890123456", "0x10", "1_000"} {
		if v, ok := fastFloat([]byte(s)); ok {
			t.Errorf("fastFloat(%q) = %v, want refused", s, v)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		s := strconv.FormatFloat(float64(r.Int64N(1e15))/math.Pow10(r.IntN(16)), 'f', -1, 64)
		if r.IntN(2) == 0 {
			s = "-" + s
		}
		got, ok := fastFloat([]byte(s))
		want, _ := strconv.ParseFloat(s, 64)
		if ok && got != want {
			t.Fatalf("fastFloat(%q) = %v, strconv %v", s, got, want)
		}
	}
}
