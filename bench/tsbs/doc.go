// Package tsbs generates the Time Series Benchmark Suite (TSBS) devops
// "cpu-only" data set byte for byte, so that ugnos's benchmark figures line up
// with published TSBS runs.
//
// The generator follows the draw order of TSBS's devops simulator as stated in
// bench/README.md of the shared notes: one math/rand source seeded with
// Config.Seed; per host, the ten initial field states and then the tags; per
// epoch, every host is emitted and then every field of every host takes one
// clamped random-walk step.
//
// It is not a general TSBS port: only the cpu measurement (the "cpu-only"
// use case) is produced, and queries are not generated here.
package tsbs
