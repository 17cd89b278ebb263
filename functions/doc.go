// Package functions holds ugnos's SQL types, scalar functions, operators
// and aggregates: their signatures (for the planner's type rules) and their
// batch kernels (for the executor), in one Registry built by NewRegistry.
//
// Kernels work on whole Arrow arrays (a Vec is an array or a constant) and
// follow PostgreSQL semantics: NULL in, NULL out for strict functions,
// three-valued logic for AND/OR, integer division truncating toward zero,
// division by zero an error (22012).
//
// numeric is PostgreSQL's arbitrary-precision decimal: a Decimal (over
// github.com/cockroachdb/apd/v3) keeps each value's display scale, and
// operators, functions and aggregates give PostgreSQL's result scales
// (select_div_scale for division, numeric_sqrt's for sqrt, rounding half
// away from zero). A numeric constant's Vec.Const is a Decimal; a numeric
// array is an Arrow utf8 array holding each value's canonical text ("1.50",
// "-0.0010", "NaN") with Vec.T = TNumeric. Arrow alone cannot tell such a
// column from text, so result schemas mark it: Type.Field sets the field
// metadata key MetaType ("ugnos.type") to "numeric", and FieldType reads it
// back (a PostgreSQL server sends such columns as numeric, OID 1700).
//
// It does not parse or plan; it is a leaf (arrow-go, apd, errs, the standard
// library).
package functions
