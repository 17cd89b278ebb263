package bufpool

import "testing"

func TestGetPut(t *testing.T) {
	f := func(n int) {
		t.Helper()
		a := Get[int32](n)
		if len(a) != n || cap(a) < n {
			t.Fatalf("Get[int32](%d): len %d cap %d", n, len(a), cap(a))
		}
		for i := range a {
			a[i] = int32(i)
		}
		Put(a)
		b := Get[float64](n)
		if len(b) != n || cap(b) < n {
			t.Fatalf("Get[float64](%d): len %d cap %d", n, len(b), cap(b))
		}
		b[n-1] = 1
		Put(b)
	}
	f(1)
	f(63)
	f(64)
	f(65)
	f(10000)
	f(1 << 20)
	Put([]int64(nil))
	Put(make([]int64, 100)) // not from Get: ignored
}
