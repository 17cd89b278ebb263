// Package functions holds ugnos's SQL types, scalar functions, operators
// and aggregates: their signatures (for the planner's type rules) and their
// batch kernels (for the executor), in one Registry built by NewRegistry.
//
// Kernels work on whole Arrow arrays (a Vec is an array or a constant) and
// follow PostgreSQL semantics: NULL in, NULL out for strict functions,
// three-valued logic for AND/OR, integer division truncating toward zero,
// division by zero an error (22012).
//
// It does not parse or plan; it is a leaf (arrow-go, errs, the standard
// library).
package functions
