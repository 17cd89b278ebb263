package sql

import (
	"math"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
)

// expr parses `SELECT <e>` and returns the expression.
func expr(t *testing.T, e string) *pg_query.Node {
	t.Helper()
	stmts, err := Parse("SELECT " + e)
	if err != nil {
		t.Fatalf("Parse(SELECT %s): %v", e, err)
	}
	return stmts[0].Node.GetSelectStmt().GetTargetList()[0].GetResTarget().GetVal()
}

func TestStringConst(t *testing.T) {
	f := func(e, want string, ok bool) {
		t.Helper()
		got, gotOK := StringConst(expr(t, e))
		if got != want || gotOK != ok {
			t.Errorf("StringConst(%s) = %q, %v; want %q, %v", e, got, gotOK, want, ok)
		}
	}
	f(`'abc'`, "abc", true)
	f(`'it''s'`, "it's", true)
	f(`E'a\nb'`, "a\nb", true)
	f(`$$x$$`, "x", true)
	f(`''`, "", true)
	f(`1`, "", false)
	f(`NULL`, "", false)
	f(`'1 hour'::interval`, "", false) // a TypeCast: pass its Arg
	f(`a`, "", false)
}

func TestIntConst(t *testing.T) {
	f := func(e string, want int64, ok bool) {
		t.Helper()
		got, gotOK := IntConst(expr(t, e))
		if got != want || gotOK != ok {
			t.Errorf("IntConst(%s) = %d, %v; want %d, %v", e, got, gotOK, want, ok)
		}
	}
	f(`0`, 0, true)
	f(`42`, 42, true)
	f(`-42`, -42, true)
	f(`2147483647`, math.MaxInt32, true)
	f(`9999999999`, 9999999999, true) // Fval: beyond int32
	f(`-9999999999`, -9999999999, true)
	f(`9223372036854775807`, math.MaxInt64, true)
	f(`-9223372036854775808`, math.MinInt64, true)
	f(`9223372036854775808`, 0, false)
	f(`0x7fffffffff`, 0x7fffffffff, true)
	f(`0o17`, 15, true)
	f(`0b101`, 5, true)
	f(`1_000_000_000_000`, 1e12, true)
	f(`1.5`, 0, false)
	f(`1e3`, 0, false)
	f(`'1'`, 0, false)
	f(`NULL`, 0, false)
	f(`true`, 0, false)
}

func TestFloatConst(t *testing.T) {
	f := func(e string, want float64, ok bool) {
		t.Helper()
		got, gotOK := FloatConst(expr(t, e))
		if got != want || gotOK != ok {
			t.Errorf("FloatConst(%s) = %v, %v; want %v, %v", e, got, gotOK, want, ok)
		}
	}
	f(`1.5`, 1.5, true)
	f(`-2.5e-3`, -2.5e-3, true)
	f(`.5`, 0.5, true)
	f(`42`, 42, true)
	f(`9999999999`, 9999999999, true)
	f(`1_000.5`, 1000.5, true)
	f(`0x10`, 16, true)
	f(`0xffffffffffffffffff`, 0xffffffffffffffffff, true)
	f(`-0x7fffffffff`, -0x7fffffffff, true)
	f(`1e400`, math.Inf(1), true)
	f(`'1.5'`, 0, false)
	f(`NULL`, 0, false)
}

func TestBoolAndNullConst(t *testing.T) {
	if v, ok := BoolConst(expr(t, "true")); !v || !ok {
		t.Errorf("BoolConst(true) = %v, %v", v, ok)
	}
	if v, ok := BoolConst(expr(t, "FALSE")); v || !ok {
		t.Errorf("BoolConst(FALSE) = %v, %v", v, ok)
	}
	if _, ok := BoolConst(expr(t, "'t'")); ok {
		t.Error("BoolConst('t') reported a boolean literal")
	}
	if !IsNullConst(expr(t, "NULL")) || IsNullConst(expr(t, "1")) || IsNullConst(expr(t, "a")) {
		t.Error("IsNullConst")
	}
	if IsNullConst(nil) {
		t.Error("IsNullConst(nil)")
	}
}

func TestNameOf(t *testing.T) {
	f := func(e, want string) {
		t.Helper()
		if got := NameOf(expr(t, e)); got != want {
			t.Errorf("NameOf(%s) = %q, want %q", e, got, want)
		}
	}
	f(`hostname`, "hostname")
	f(`HostName`, "hostname") // unquoted names are folded to lower case
	f(`"time"`, "time")
	f(`"Time"`, "Time")
	f(`cpu.hostname`, "cpu.hostname")
	f(`public.cpu."Host"`, "public.cpu.Host")
	f(`*`, "*")
	f(`cpu.*`, "cpu.*")
	f(`1`, "")
	f(`f(x)`, "")
	if got := NameOf(nil); got != "" {
		t.Errorf("NameOf(nil) = %q", got)
	}

	stmts, err := Parse(`SELECT pg_catalog.now()::pg_catalog.timestamptz, a >= b FROM db.public.cpu`)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].Node.GetSelectStmt()
	tc := sel.GetTargetList()[0].GetResTarget().GetVal().GetTypeCast()
	if got := JoinNames(tc.GetArg().GetFuncCall().GetFuncname()); got != "pg_catalog.now" {
		t.Errorf("function name %q", got)
	}
	if got := JoinNames(tc.GetTypeName().GetNames()); got != "pg_catalog.timestamptz" {
		t.Errorf("type name %q", got)
	}
	if got := JoinNames(sel.GetTargetList()[1].GetResTarget().GetVal().GetAExpr().GetName()); got != ">=" {
		t.Errorf("operator %q", got)
	}
	if got := NameOf(sel.GetFromClause()[0]); got != "db.public.cpu" {
		t.Errorf("RangeVar %q", got)
	}
}
