// Package soak holds the load and soak test of ugnos serve (issue 8): many
// concurrent clients mixing COPY, INSERT, line-protocol writes, TSBS
// queries, deletes, checkpoints and snapshots against the real binary for a
// fixed time, then checks that every acknowledged row is there, before and
// after kill -9, and that resident memory stayed bounded.
//
// The package has no code of its own: everything is in soak_test.go and
// its helpers. `go test ./soak/` runs the short variant (15 s of load;
// part of `make test`); `make soak` runs it for UGNOS_SOAK_DURATION (10m).
package soak
