package sql

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ugnos/ugnos/errs"
)

// treeDepth is the nesting of protobuf messages under m, m included: the
// unit of Go's protobuf recursion limit.
func treeDepth(m protoreflect.Message) int {
	deepest := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				deepest = max(deepest, treeDepth(l.Get(i).Message()))
			}
		case fd.IsMap():
		default:
			deepest = max(deepest, treeDepth(v.Message()))
		}
		return true
	})
	return deepest + 1
}

// statementsDepth is the depth of the whole decoded ParseResult: the
// ParseResult and RawStmt levels above each statement's tree.
func statementsDepth(stmts []Statement) int {
	d := 0
	for _, s := range stmts {
		d = max(d, 2+treeDepth(s.Node.ProtoReflect()))
	}
	return d
}

// checkBound fails if depthBound underestimates the tree of an accepted q.
func checkBound(t testing.TB, q string, stmts []Statement) {
	t.Helper()
	if got, bound := statementsDepth(stmts), depthBound(q); got > bound {
		t.Fatalf("depthBound(%.200q) = %d, but the tree is %d deep", q, bound, got)
	}
}

// TestDeepNesting feeds the parser inputs that used to crash the process
// (SIGSEGV in pg_query's C output functions) or that PostgreSQL's grammar
// refuses, and inputs just as long that must still parse.
func TestDeepNesting(t *testing.T) {
	rep := strings.Repeat
	refused := map[string]string{
		"100k nested parentheses":      rep("(", 100000) + "1" + rep(")", 100000),
		"100k nested parens in SELECT": "SELECT " + rep("(", 100000) + "1" + rep(")", 100000),
		"100k unclosed parentheses":    "SELECT " + rep("(", 100000),
		"100k-term + chain":            "SELECT 1" + rep("+1", 100000),
		"24k-term + chain":             "SELECT 1" + rep("+1", 24000),
		"30k casts":                    "SELECT 1" + rep("::int", 30000),
		"30k joins":                    "SELECT * FROM a" + rep(" JOIN a ON true", 30000),
		"30k unions":                   "SELECT 1" + rep(" UNION SELECT 1", 30000),
		"30k || with CASE":             "SELECT " + rep("CASE WHEN a AND b THEN 'x' END || ", 30000) + "'y'",
		"100k NOT":                     "SELECT " + rep("NOT ", 100000) + "true",
		"100k unary minus":             "SELECT " + rep("- ", 100000) + "a",
		"10k nested functions":         "SELECT " + rep("f(", 10000) + "1" + rep(")", 10000),
		"5k nested subqueries":         "SELECT " + rep("(SELECT ", 5000) + "1" + rep(")", 5000),
		"10k nested arrays":            "SELECT " + rep("ARRAY[", 10000) + "1" + rep("]", 10000),
		"100k nested CASE":             "SELECT " + rep("CASE WHEN a THEN 1 ELSE ", 100000) + "1" + rep(" END", 100000),
		"30k COLLATE":                  "SELECT a" + rep(` COLLATE "C"`, 30000),
		"30k AT TIME ZONE":             "SELECT a" + rep(" AT TIME ZONE 'UTC'", 30000),
	}
	for name, q := range refused {
		t.Run(name, func(t *testing.T) {
			stmts, err := Parse(q)
			if err == nil {
				t.Fatalf("parsed %d statements, want an error", len(stmts))
			}
			if c := errs.SQLState(err); c != CodeStatementTooComplex && c != errs.CodeSyntaxError {
				t.Fatalf("error %v with SQLSTATE %s, want 54001 or 42601", err, c)
			}
		})
	}
	// Each of these is long enough that its bound would pass the limit if
	// commas, AND/OR and WHEN/THEN did not end segments.
	accepted := map[string]string{
		"3k ORs":             "SELECT 1 FROM t WHERE " + rep("x = 1 OR ", 3000) + "true",
		"3k ANDs":            "SELECT 1 FROM t WHERE " + rep("x = 1 AND ", 3000) + "true",
		"3k grouped ORs":     "SELECT 1 FROM t WHERE " + rep("(a = 1 AND b = 2) OR ", 3000) + "false",
		"20k IN list":        "SELECT 1 FROM t WHERE h IN (" + rep("'host', ", 20000) + "'x')",
		"3k VALUES rows":     "INSERT INTO t VALUES " + rep("(-1, 'a', 2.5e3, now() - interval '1 hour'), ", 3000) + "(1, 'b', 3, now())",
		"3k WHEN branches":   "SELECT CASE x " + rep("WHEN 1 THEN 'a' ", 3000) + "ELSE 'b' END FROM t",
		"3k BETWEENs":        "SELECT 1 WHERE " + rep("x BETWEEN 1 AND 2 AND ", 3000) + "true",
		"3k select columns":  "SELECT " + rep("a + b * 2 AS c, ", 3000) + "1 FROM t",
		"1000-term + chain":  "SELECT 1" + rep("+1", 1000),
		"500 nested calls":   "SELECT " + rep("f(", 500) + "1" + rep(")", 500),
		"100 nested queries": "SELECT " + rep("(SELECT ", 100) + "1" + rep(")", 100),
		"1000 unions":        "SELECT 1" + rep(" UNION SELECT 1", 1000),
		"1000 joins":         "SELECT * FROM a" + rep(" JOIN a ON x AND y", 1000),
		"200 nested CASE":    "SELECT " + rep("CASE WHEN a AND b THEN 1 ELSE ", 200) + "1" + rep(" END", 200),
	}
	for name, q := range accepted {
		t.Run(name, func(t *testing.T) {
			stmts, err := Parse(q)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkBound(t, q, stmts)
		})
	}
}

// TestDepthBoundSound checks the bound against the real depth of trees
// built from chains of every construct that nests.
func TestDepthBoundSound(t *testing.T) {
	rep := strings.Repeat
	pieces := []struct{ open, leaf, close string }{
		{"SELECT 1", "", rep("+1", 200)},
		{"SELECT 1", "", rep("::int", 200)},
		{"SELECT a", "", rep(` COLLATE "C"`, 200)},
		{"SELECT a", "", rep(" AT TIME ZONE 'UTC'", 200)},
		{"SELECT a", "", rep(" -> 'k'", 200)},
		{"SELECT ", rep("NOT ", 200), "true"},
		{"SELECT ", rep("- ", 200), "a"},
		{"SELECT ", rep("@ ", 200), "a"},
		{"SELECT ", rep("f(", 200), "1" + rep(")", 200)},
		{"SELECT ", rep("(SELECT ", 100), "1" + rep(")", 100)},
		{"SELECT ", rep("EXISTS (SELECT ", 100), "1" + rep(")", 100)},
		{"SELECT ", rep("ARRAY[", 200), "1" + rep("]", 200)},
		{"SELECT ", rep("ROW(1, ", 200), "1" + rep(")", 200)},
		{"SELECT ", rep("CASE WHEN a AND b THEN 1 ELSE ", 200), "1" + rep(" END", 200)},
		{"SELECT ", rep("CAST(", 200), "1" + rep(" AS int)", 200)},
		{"SELECT ", rep("x IN (SELECT ", 100), "1" + rep(")", 100)},
		{"SELECT ", rep("COALESCE(a, ", 200), "1" + rep(")", 200)},
		{"SELECT ", rep("sum(x) OVER (PARTITION BY ", 100), "1" + rep(")", 100)},
		{"SELECT ", rep("count(*) FILTER (WHERE ", 100), "true" + rep(")", 100)},
		{"SELECT 1", "", rep(" UNION SELECT 1, 2 WHERE a AND b", 200)},
		{"SELECT * FROM a", "", rep(" JOIN b USING (x, y)", 200)},
		{"SELECT * FROM a", "", rep(" NATURAL JOIN b", 200)},
		{"SELECT * FROM ", rep("(", 200), "a" + rep(" CROSS JOIN b)", 200)},
		{"WITH ", "", rep("a AS (SELECT 1), ", 200) + "b AS (SELECT 2) SELECT 1"},
		{"SELECT ", rep("(a, ", 200), "1" + rep(")", 200)},
		{"SELECT ", rep("a[", 100), "1" + rep("]", 100)},
		{"SELECT x ", "", rep("BETWEEN 1 AND 2 AND x ", 200) + "IS NULL"},
		{"SELECT ", rep("'a' || ", 200), "'b'"},
		{"SELECT ", rep("$1 + ", 200), "1"},
		{"SELECT ", rep("e'\\'' || ", 200), "$$x$$"},
		{"EXPLAIN ANALYZE CREATE TABLE x AS WITH a AS (", "SELECT 1 UNION SELECT 2", ") SELECT * FROM a ORDER BY 1 LIMIT 1"},
		{"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC ", "SELECT 1; SELECT CASE WHEN a THEN 1 END;", " END"},
		{"SELECT 1 WHERE ", rep("(", 200), "a" + rep(" OR b) AND c", 200)},
		{"SELECT ", rep("(SELECT a, b FROM t WHERE x OR y AND ", 100), "z" + rep(")", 100)},
		{"", rep("WITH a AS (", 100), "SELECT 1" + rep(") SELECT 1", 100)},
		{"SELECT ", rep("(WITH a AS (SELECT 1), b AS (SELECT 2) SELECT x, y FROM a WHERE p OR q AND ", 50), "z" + rep(")", 50)},
		{"SELECT ", rep("(VALUES (1, ", 100), "2" + rep("))", 100)},
		{"SELECT * FROM ", rep("(SELECT * FROM ", 100), "t" + rep(") s", 100)},
		{"SELECT ", rep("GREATEST(1, ", 100), "2" + rep(")", 100)},
		{"SELECT ", rep("(SELECT ARRAY[(SELECT ", 50), "1" + rep(")])", 50)},
		{"UPDATE t SET a = b AND c, d = ", rep("e + ", 200), "1 WHERE f RETURNING *"},
	}
	for _, p := range pieces {
		q := p.open + p.leaf + p.close
		stmts, err := Parse(q)
		if err != nil {
			t.Errorf("Parse(%.80q): %v", q, err)
			continue
		}
		checkBound(t, q, stmts)
		if testing.Verbose() {
			t.Logf("bound %6d real %5d  %.60s", depthBound(q), statementsDepth(stmts), q)
		}
	}
	for _, q := range realQueries {
		stmts, err := Parse(q)
		if err != nil {
			t.Fatal(err)
		}
		checkBound(t, q, stmts)
	}
}

func TestDepthBoundLexer(t *testing.T) {
	// Text hidden in literals, identifiers and comments adds no tokens.
	plain := depthBound("SELECT 'x'")
	for _, q := range []string{
		"SELECT '((((+-*/'",
		"SELECT 'it''s (((('",
		"SELECT E'\\' ((((('",
		`SELECT "a ((("" b"`,
		"SELECT $$ (((( $$",
		"SELECT $tag$ (((( $$ ))) $tag$",
		"SELECT /* (((( /* nested (( */ ))) */ 'x'",
		"SELECT 'x' -- ((((",
	} {
		if got := depthBound(q); got != plain {
			t.Errorf("depthBound(%q) = %d, want %d", q, got, plain)
		}
	}
	// Parameters and identifiers with $ are not dollar quotes.
	if a, b := depthBound("SELECT $1 + a$b$ + $2"), depthBound("SELECT x + y + z"); a != b {
		t.Errorf("params: %d vs %d", a, b)
	}
	// Separate statements do not add up.
	if a, b := depthBound("SELECT 1+1+1; SELECT 1+1+1"), depthBound("SELECT 1+1+1"); a != b {
		t.Errorf("statements: %d vs %d", a, b)
	}
}

func BenchmarkDepthBound(b *testing.B) {
	// go test -run '^$' -bench DepthBound ./sql/
	q := realQueries[2]
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		depthBound(q)
	}
}

func BenchmarkParse(b *testing.B) {
	// go test -run '^$' -bench 'Parse$' ./sql/
	q := realQueries[2]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(q); err != nil {
			b.Fatal(err)
		}
	}
}
