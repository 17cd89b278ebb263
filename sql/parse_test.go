package sql

import (
	"errors"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
)

// realQueries are statements that real clients send; the fuzz target uses
// them as seeds.
var realQueries = []string{
	`SELECT 1`,
	`select $1::int`,
	`SELECT time_bucket('60 seconds', time) AS minute, max(usage_user) FROM cpu WHERE hostname IN ('a','b') AND time >= '2016-01-01 20:16:22.646325 +0000' GROUP BY minute ORDER BY minute DESC LIMIT 5`,
	`WITH x AS (SELECT 1) SELECT * FROM x`,
	`SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC`,
	`SELECT "time" FROM t`,
	`SELECT a || b FROM t`,
	`SELECT now() - interval '1 hour'`,
	`SET search_path TO public`,
	`SHOW TimeZone`,
	`BEGIN; SELECT 1; COMMIT`,
	`SELECT count(*) FILTER (WHERE x > 1) OVER (PARTITION BY h ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t`,
	`SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM t`,
}

// one parses q, wants exactly one statement and returns its tree.
func one(t *testing.T, q string) *pg_query.Node {
	t.Helper()
	stmts, err := Parse(q)
	if err != nil {
		t.Fatalf("Parse(%q): %v", q, err)
	}
	if len(stmts) != 1 {
		t.Fatalf("Parse(%q): %d statements, want 1", q, len(stmts))
	}
	if stmts[0].Text != q || stmts[0].Pos != 0 {
		t.Fatalf("Parse(%q): Text %q Pos %d", q, stmts[0].Text, stmts[0].Pos)
	}
	return stmts[0].Node
}

// target returns the value of the i-th select-list entry.
func target(t *testing.T, sel *pg_query.SelectStmt, i int) *pg_query.ResTarget {
	t.Helper()
	if sel == nil || len(sel.GetTargetList()) <= i {
		t.Fatalf("no target %d in %v", i, sel)
	}
	return sel.GetTargetList()[i].GetResTarget()
}

func TestParseClientStatements(t *testing.T) {
	tests := []struct {
		q     string
		check func(t *testing.T, n *pg_query.Node)
	}{
		{`SELECT 1`, func(t *testing.T, n *pg_query.Node) {
			v, ok := IntConst(target(t, n.GetSelectStmt(), 0).GetVal())
			if !ok || v != 1 {
				t.Errorf("got %v %v", v, ok)
			}
		}},
		{`select $1::int`, func(t *testing.T, n *pg_query.Node) {
			tc := target(t, n.GetSelectStmt(), 0).GetVal().GetTypeCast()
			if tc.GetArg().GetParamRef().GetNumber() != 1 {
				t.Errorf("arg %v, want $1", tc.GetArg())
			}
			if got := JoinNames(tc.GetTypeName().GetNames()); got != "pg_catalog.int4" {
				t.Errorf("type %q", got)
			}
		}},
		{realQueries[2], func(t *testing.T, n *pg_query.Node) {
			sel := n.GetSelectStmt()
			rt := target(t, sel, 0)
			fc := rt.GetVal().GetFuncCall()
			if rt.GetName() != "minute" || JoinNames(fc.GetFuncname()) != "time_bucket" || len(fc.GetArgs()) != 2 {
				t.Fatalf("target 0: %v", rt)
			}
			if s, ok := StringConst(fc.GetArgs()[0]); !ok || s != "60 seconds" {
				t.Errorf("bucket width %q", s)
			}
			if NameOf(fc.GetArgs()[1]) != "time" {
				t.Errorf("bucket column %v", fc.GetArgs()[1])
			}
			if fc2 := target(t, sel, 1).GetVal().GetFuncCall(); JoinNames(fc2.GetFuncname()) != "max" || NameOf(fc2.GetArgs()[0]) != "usage_user" {
				t.Errorf("target 1: %v", fc2)
			}
			if len(sel.GetFromClause()) != 1 || NameOf(sel.GetFromClause()[0]) != "cpu" {
				t.Errorf("from: %v", sel.GetFromClause())
			}
			and := sel.GetWhereClause().GetBoolExpr()
			if and.GetBoolop() != pg_query.BoolExprType_AND_EXPR || len(and.GetArgs()) != 2 {
				t.Fatalf("where: %v", sel.GetWhereClause())
			}
			in := and.GetArgs()[0].GetAExpr()
			if in.GetKind() != pg_query.A_Expr_Kind_AEXPR_IN || JoinNames(in.GetName()) != "=" || NameOf(in.GetLexpr()) != "hostname" {
				t.Errorf("IN: %v", in)
			}
			var vals []string
			for _, item := range in.GetRexpr().GetList().GetItems() {
				s, _ := StringConst(item)
				vals = append(vals, s)
			}
			if strings.Join(vals, ",") != "a,b" {
				t.Errorf("IN list %v", vals)
			}
			ge := and.GetArgs()[1].GetAExpr()
			if ge.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || JoinNames(ge.GetName()) != ">=" || NameOf(ge.GetLexpr()) != "time" {
				t.Errorf(">=: %v", ge)
			}
			if s, ok := StringConst(ge.GetRexpr()); !ok || s != "2016-01-01 20:16:22.646325 +0000" {
				t.Errorf("time literal %q", s)
			}
			if len(sel.GetGroupClause()) != 1 || NameOf(sel.GetGroupClause()[0]) != "minute" {
				t.Errorf("group by %v", sel.GetGroupClause())
			}
			sb := sel.GetSortClause()[0].GetSortBy()
			if NameOf(sb.GetNode()) != "minute" || sb.GetSortbyDir() != pg_query.SortByDir_SORTBY_DESC {
				t.Errorf("order by %v", sb)
			}
			if v, ok := IntConst(sel.GetLimitCount()); !ok || v != 5 {
				t.Errorf("limit %v", sel.GetLimitCount())
			}
		}},
		{`WITH x AS (SELECT 1) SELECT * FROM x`, func(t *testing.T, n *pg_query.Node) {
			sel := n.GetSelectStmt()
			ctes := sel.GetWithClause().GetCtes()
			if len(ctes) != 1 || ctes[0].GetCommonTableExpr().GetCtename() != "x" ||
				ctes[0].GetCommonTableExpr().GetCtequery().GetSelectStmt() == nil {
				t.Errorf("ctes %v", ctes)
			}
			if NameOf(target(t, sel, 0).GetVal()) != "*" || NameOf(sel.GetFromClause()[0]) != "x" {
				t.Errorf("select %v", sel)
			}
		}},
		{`SELECT DISTINCT ON (hostname) * FROM cpu ORDER BY hostname, time DESC`, func(t *testing.T, n *pg_query.Node) {
			sel := n.GetSelectStmt()
			if d := sel.GetDistinctClause(); len(d) != 1 || NameOf(d[0]) != "hostname" {
				t.Errorf("distinct on %v", d)
			}
			sc := sel.GetSortClause()
			if len(sc) != 2 || NameOf(sc[1].GetSortBy().GetNode()) != "time" ||
				sc[0].GetSortBy().GetSortbyDir() != pg_query.SortByDir_SORTBY_DEFAULT ||
				sc[1].GetSortBy().GetSortbyDir() != pg_query.SortByDir_SORTBY_DESC {
				t.Errorf("order by %v", sc)
			}
		}},
		{`SELECT "time" FROM t`, func(t *testing.T, n *pg_query.Node) {
			v := target(t, n.GetSelectStmt(), 0).GetVal()
			if v.GetColumnRef() == nil || NameOf(v) != "time" {
				t.Errorf("got %v, want ColumnRef time", v)
			}
		}},
		{`SELECT a || b FROM t`, func(t *testing.T, n *pg_query.Node) {
			e := target(t, n.GetSelectStmt(), 0).GetVal().GetAExpr()
			if e.GetKind() != pg_query.A_Expr_Kind_AEXPR_OP || JoinNames(e.GetName()) != "||" ||
				NameOf(e.GetLexpr()) != "a" || NameOf(e.GetRexpr()) != "b" {
				t.Errorf("got %v, want a || b", e)
			}
		}},
		{`SELECT now() - interval '1 hour'`, func(t *testing.T, n *pg_query.Node) {
			e := target(t, n.GetSelectStmt(), 0).GetVal().GetAExpr()
			if JoinNames(e.GetName()) != "-" || JoinNames(e.GetLexpr().GetFuncCall().GetFuncname()) != "now" {
				t.Fatalf("got %v", e)
			}
			tc := e.GetRexpr().GetTypeCast()
			if s, _ := StringConst(tc.GetArg()); s != "1 hour" || JoinNames(tc.GetTypeName().GetNames()) != "pg_catalog.interval" {
				t.Errorf("interval: %v", tc)
			}
		}},
		{`SET search_path TO public`, func(t *testing.T, n *pg_query.Node) {
			s := n.GetVariableSetStmt()
			if s.GetKind() != pg_query.VariableSetKind_VAR_SET_VALUE || s.GetName() != "search_path" {
				t.Fatalf("got %v", s)
			}
			if v, _ := StringConst(s.GetArgs()[0]); v != "public" {
				t.Errorf("value %v", s.GetArgs())
			}
		}},
		{`SHOW TimeZone`, func(t *testing.T, n *pg_query.Node) {
			if got := n.GetVariableShowStmt().GetName(); got != "timezone" {
				t.Errorf("got %q, want timezone (lower-cased)", got)
			}
		}},
		{realQueries[11], func(t *testing.T, n *pg_query.Node) {
			fc := target(t, n.GetSelectStmt(), 0).GetVal().GetFuncCall()
			if JoinNames(fc.GetFuncname()) != "count" || !fc.GetAggStar() || len(fc.GetArgs()) != 0 {
				t.Fatalf("got %v", fc)
			}
			if f := fc.GetAggFilter().GetAExpr(); JoinNames(f.GetName()) != ">" || NameOf(f.GetLexpr()) != "x" {
				t.Errorf("filter %v", fc.GetAggFilter())
			}
			w := fc.GetOver()
			if len(w.GetPartitionClause()) != 1 || NameOf(w.GetPartitionClause()[0]) != "h" ||
				len(w.GetOrderClause()) != 1 || NameOf(w.GetOrderClause()[0].GetSortBy().GetNode()) != "t" {
				t.Errorf("window %v", w)
			}
			// FRAMEOPTION_NONDEFAULT|ROWS|BETWEEN|START_OFFSET_PRECEDING|END_CURRENT_ROW
			const want = 0x1 | 0x4 | 0x10 | 0x800 | 0x400
			if w.GetFrameOptions() != want {
				t.Errorf("frame options %#x, want %#x", w.GetFrameOptions(), want)
			}
			if v, _ := IntConst(w.GetStartOffset()); v != 1 || w.GetEndOffset() != nil {
				t.Errorf("frame offsets %v %v", w.GetStartOffset(), w.GetEndOffset())
			}
		}},
		{realQueries[12], func(t *testing.T, n *pg_query.Node) {
			fc := target(t, n.GetSelectStmt(), 0).GetVal().GetFuncCall()
			if JoinNames(fc.GetFuncname()) != "percentile_cont" || !fc.GetAggWithinGroup() {
				t.Fatalf("got %v", fc)
			}
			if f, ok := FloatConst(fc.GetArgs()[0]); !ok || f != 0.5 {
				t.Errorf("fraction %v", fc.GetArgs())
			}
			if len(fc.GetAggOrder()) != 1 || NameOf(fc.GetAggOrder()[0].GetSortBy().GetNode()) != "v" {
				t.Errorf("within group %v", fc.GetAggOrder())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.q, func(t *testing.T) { tt.check(t, one(t, tt.q)) })
	}
}

func TestParseMultiStatement(t *testing.T) {
	f := func(q string, texts []string, kinds []string) {
		t.Helper()
		stmts, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if len(stmts) != len(texts) {
			t.Fatalf("Parse(%q): %d statements, want %d", q, len(stmts), len(texts))
		}
		for i, s := range stmts {
			if s.Text != texts[i] {
				t.Errorf("statement %d: Text %q, want %q", i, s.Text, texts[i])
			}
			if q[s.Pos:s.Pos+len(s.Text)] != s.Text {
				t.Errorf("statement %d: Pos %d does not point at %q", i, s.Pos, s.Text)
			}
			if got := nodeKind(s.Node); got != kinds[i] {
				t.Errorf("statement %d: kind %s, want %s", i, got, kinds[i])
			}
		}
	}
	f("BEGIN; SELECT 1; COMMIT", []string{"BEGIN", "SELECT 1", "COMMIT"},
		[]string{"TransactionStmt", "SelectStmt", "TransactionStmt"})
	f("  BEGIN ;\n\tSELECT 'a;b' ;\n COMMIT;  \n", []string{"BEGIN", "SELECT 'a;b'", "COMMIT"},
		[]string{"TransactionStmt", "SelectStmt", "TransactionStmt"})
	f("select 1;;select 2", []string{"select 1", "select 2"}, []string{"SelectStmt", "SelectStmt"})
	f("SELECT 'é'; SELECT 2", []string{"SELECT 'é'", "SELECT 2"}, []string{"SelectStmt", "SelectStmt"})
}

func nodeKind(n *pg_query.Node) string {
	switch {
	case n.GetSelectStmt() != nil:
		return "SelectStmt"
	case n.GetTransactionStmt() != nil:
		return "TransactionStmt"
	}
	return "other"
}

func TestParseEmpty(t *testing.T) {
	for _, q := range []string{"", " ", ";", " ; ;\n", "-- just a comment", "/* c */ ;"} {
		stmts, err := Parse(q)
		if err != nil || len(stmts) != 0 {
			t.Errorf("Parse(%q) = %d statements, %v; want none, nil", q, len(stmts), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	f := func(q, code, msg string, pos int) {
		t.Helper()
		_, err := Parse(q)
		var e *errs.Error
		if !errors.As(err, &e) {
			t.Fatalf("Parse(%q): error %v (%T), want *errs.Error", q, err, err)
		}
		if !errors.Is(err, errs.ErrInvalidInput) {
			t.Errorf("Parse(%q): kind %v, want ErrInvalidInput", q, e.Kind)
		}
		if e.Code != code || e.Msg != msg || e.Pos != pos {
			t.Errorf("Parse(%q) = %s %q at %d, want %s %q at %d", q, e.Code, e.Msg, e.Pos, code, msg, pos)
		}
	}
	// PostgreSQL reads FORM as a column alias (SELECT 1 AS form) and reports
	// the next token, t, at position 15, exactly as psql shows it.
	f("SELECT 1 FORM t", "42601", `syntax error at or near "t"`, 15)
	// After *, which takes no alias, the misspelt keyword itself is reported.
	f("SELECT * FORM t", "42601", `syntax error at or near "FORM"`, 10)
	// Positions count characters, not bytes.
	f("SELECT 'éé', * FORM t", "42601", `syntax error at or near "FORM"`, 16)
	// Positions are relative to the whole query string.
	f("SELECT 1; SELECT * FORM t", "42601", `syntax error at or near "FORM"`, 20)
	f("SELECT 'abc", "42601", `unterminated quoted string at or near "'abc"`, 8)
	f(`SELECT "abc`, "42601", `unterminated quoted identifier at or near ""abc"`, 8)
	f("SELECT /* x", "42601", `unterminated /* comment at or near "/* x"`, 8)
	f("SELECT $$x", "42601", `unterminated dollar-quoted string at or near "$$x"`, 8)
	f("SELEC 1", "42601", `syntax error at or near "SELEC"`, 1)
	f("SELECT (1", "42601", `syntax error at end of input`, 10)
	f("SELECT 'a\x00b'", CodeCharacterNotInRepertoire, `invalid byte sequence for encoding "UTF8": 0x00`, 10)
	f("SELECT '\xc3\x28'", CodeCharacterNotInRepertoire, `invalid byte sequence for encoding "UTF8": 0xc3 0x28`, 9)
}

func TestParseTooLong(t *testing.T) {
	q := "SELECT '" + strings.Repeat("x", MaxQueryBytes) + "'"
	_, err := Parse(q)
	if errs.SQLState(err) != CodeProgramLimitExceeded || !errors.Is(err, errs.ErrInvalidInput) {
		t.Fatalf("Parse(%d bytes) = %v (%s), want 54000", len(q), err, errs.SQLState(err))
	}
	// Just under the limit parses.
	q = "SELECT '" + strings.Repeat("x", MaxQueryBytes-9) + "'"
	if _, err := Parse(q); err != nil {
		t.Fatalf("Parse(%d bytes): %v", len(q), err)
	}
}
