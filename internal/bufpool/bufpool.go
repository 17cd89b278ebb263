// Package bufpool pools the per-batch scratch buffers of scans and
// operators (dictionary indices, gathered columns, group keys), so that a
// query reuses memory that earlier queries touched instead of faulting in
// fresh pages for every batch buffer it needs.
//
// A buffer must be given back only once nothing reads or writes it any
// more: pool only buffers whose contents never leave their owner (a batch
// built over one is handed out only to callers that are done with it
// before the owner writes the buffer again, and before it is given back).
package bufpool

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Word is an element type of a scratch buffer.
type Word interface {
	~int32 | ~uint32 | ~int64 | ~uint64 | ~float64
}

const (
	minClass = 6  // 64 words
	maxClass = 24 // 128 MiB; larger buffers are not pooled
)

// pools[k] holds buffers of exactly 1<<k words.
var pools [maxClass + 1]sync.Pool

// Get returns a buffer of n elements (contents undefined).
func Get[T Word](n int) []T {
	size := int(unsafe.Sizeof(T(0)))
	words := (n*size + 7) / 8
	k := max(minClass, bits.Len(uint(words-1)))
	var w []uint64
	if k > maxClass {
		w = make([]uint64, words)
	} else if p, ok := pools[k].Get().(*[]uint64); ok {
		w = *p
	} else {
		w = make([]uint64, 1<<k)
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(w))), len(w)*8/size)[:n]
}

// Put gives back a buffer from Get (nil is ignored). The caller must not use
// it afterwards.
func Put[T Word](s []T) {
	size := int(unsafe.Sizeof(T(0)))
	words := cap(s) * size / 8
	if words == 0 {
		return
	}
	k := bits.Len(uint(words)) - 1
	if k < minClass || k > maxClass || words != 1<<k {
		return // not from Get
	}
	w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(s))), words)
	pools[k].Put(&w)
}
