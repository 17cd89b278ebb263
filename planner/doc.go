// Package planner binds a parsed SQL statement against a Catalog and
// produces a plan: a tree of plain-data nodes (Scan, Filter, Project,
// Aggregate, Sort, Distinct, Limit, Values) whose expressions are resolved
// to column indexes, constants and registry functions. Rewrites push time
// ranges and tag predicates into the Scan, prune unused columns and fold
// constants.
//
// It does not execute anything: package exec builds operators from a plan.
// Constructs it does not support are refused with SQLSTATE 0A000 naming
// them, never planned approximately.
package planner
