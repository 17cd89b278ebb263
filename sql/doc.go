// Package sql turns SQL text into PostgreSQL's own raw syntax tree.
//
// It wraps github.com/pganalyze/pg_query_go (PostgreSQL's grammar, compiled
// in through cgo), so every statement that psql, pgx, JDBC, Grafana and the
// other PostgreSQL clients send parses exactly as a PostgreSQL server would
// parse it: `::` casts, `$1` parameters, `INTERVAL '1 hour'`, CTEs, window
// frames, DISTINCT ON, quoted identifiers and `||` included.
//
// What it offers:
//
//   - [Parse] and [Parser.Parse] split a query string into [Statement]s, each
//     with its raw parse tree (*pg_query.Node), its own text and its byte
//     offset. [Parser] keeps an LRU cache keyed by the full query text, so
//     prepared statements and repeated dashboard queries are parsed once.
//   - Errors are *errs.Error values carrying a SQLSTATE: 42601 with
//     PostgreSQL's message and 1-based character position for syntax errors,
//     54000 for queries over [MaxQueryBytes], 54001 for statements nested too
//     deeply to parse safely, 22021 for text that is not valid UTF-8.
//   - Small helpers for reading literal and name nodes ([StringConst],
//     [IntConst], [FloatConst], [BoolConst], [NameOf], [JoinNames]).
//
// What it is not: it does not bind names against a catalog, check types,
// resolve functions or plan; that is the planner's job. The trees it returns
// are PostgreSQL's raw parse trees (before parse analysis): a column is a
// ColumnRef of name parts, a function call is a FuncCall with a qualified
// name, a literal is an A_Const, and `'...'::type` is a TypeCast around an
// A_Const. The package is a leaf: it imports only the standard library,
// pg_query_go and ugnos/errs.
package sql
