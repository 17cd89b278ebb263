// Package exec runs plans: Build turns a planner plan into a tree of
// Operators that pass Arrow record batches (Volcano style, a batch at a
// time): scan, filter, project, hash aggregate, sort, distinct, limit and
// values. Expressions are evaluated a batch at a time with the kernels of
// package functions; cancellation is checked once per batch.
//
// It reaches storage only through the arrowstore scan contract.
package exec
