package planner

import (
	"fmt"
	"math"
	"strings"

	"github.com/ugnos/ugnos/functions"
)

const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)

// Expr is a bound expression.
type Expr interface {
	Type() functions.Type
	String() string
}

// Col refers to column Idx of the node's input.
type Col struct {
	Idx  int
	Name string
	T    functions.Type
}

// Const is a constant (nil is NULL); see functions.Vec for the Go types.
type Const struct {
	V any
	T functions.Type
}

// Call applies a scalar function or operator from the registry.
type Call struct {
	Name string
	Args []Expr
	T    functions.Type
}

// Cast converts its argument to T.
type Cast struct {
	E Expr
	T functions.Type
}

// When is a CASE branch.
type When struct{ Cond, Result Expr }

// Case is a searched CASE (a simple CASE is bound into this form).
type Case struct {
	Whens []When
	Else  Expr // nil: NULL
	T     functions.Type
}

// Subquery is an uncorrelated subquery used as an expression: "scalar"
// (one column, at most one row), "exists", or "in" (Arg IN (Plan), with
// Plan's single column of Arg's type).
type Subquery struct {
	Kind string
	Plan Node
	Arg  Expr
	T    functions.Type
	// Outer are the enclosing query's columns a correlated subquery reads
	// (nil: uncorrelated). Replan plans the subquery for their values, in
	// the order of Outer.
	Outer  []Expr
	Replan func(outer []any) (Node, error)
}

func (e *Subquery) Type() functions.Type { return e.T }
func (e *Subquery) String() string {
	switch e.Kind {
	case "in":
		return "(" + e.Arg.String() + " IN (subquery))"
	case "exists":
		return "EXISTS (subquery)"
	}
	return "(subquery)"
}

// ParamRef stands for the value of $N while parameter types are being
// inferred (Planner.InferParams): a Const holding one has no value yet.
type ParamRef struct {
	N     int
	types *[]functions.Type
}

// record notes the type a parameter is used as (the first use wins).
func (p ParamRef) record(t functions.Type) {
	ts := *p.types
	for len(ts) < p.N {
		ts = append(ts, functions.TUnknown)
	}
	if ts[p.N-1] == functions.TUnknown {
		ts[p.N-1] = t
	}
	*p.types = ts
}

// outerMarker stands for a correlated subquery's reference to a column of
// the enclosing query while the subquery is planned for its types.
type outerMarker struct{ k int }

// isParam reports whether a constant is a placeholder without a value (a
// parameter being typed, or an outer column of a correlated subquery).
func isParam(c *Const) bool {
	switch c.V.(type) {
	case ParamRef, outerMarker:
		return true
	}
	return false
}

func (e *Col) Type() functions.Type   { return e.T }
func (e *Const) Type() functions.Type { return e.T }
func (e *Call) Type() functions.Type  { return e.T }
func (e *Cast) Type() functions.Type  { return e.T }
func (e *Case) Type() functions.Type  { return e.T }

func (e *Col) String() string { return fmt.Sprintf("%s#%d", e.Name, e.Idx) }
func (e *Const) String() string {
	switch v := e.V.(type) {
	case ParamRef:
		return fmt.Sprintf("$%d", v.N)
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	default:
		s := functions.FormatValue(v, e.T)
		if e.T == functions.TTimestamp || e.T == functions.TInterval {
			return "'" + s + "'::" + e.T.Name()
		}
		return s
	}
}
func (e *Call) String() string {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = a.String()
	}
	switch {
	case len(args) == 2 && isOperator(e.Name):
		return "(" + args[0] + " " + e.Name + " " + args[1] + ")"
	case e.Name == "in":
		return "(" + args[0] + " IN (" + strings.Join(args[1:], ", ") + "))"
	}
	return e.Name + "(" + strings.Join(args, ", ") + ")"
}
func (e *Cast) String() string { return e.E.String() + "::" + e.T.Name() }
func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	for _, w := range e.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Result.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE " + e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func isOperator(name string) bool {
	switch name {
	case "+", "-", "*", "/", "%", "||", "=", "<>", "<", "<=", ">", ">=", "and", "or":
		return true
	}
	return false
}

// walkExpr calls f on e and its descendants; f returning a non-nil Expr
// replaces the node (and its subtree is not visited further).
func rewrite(e Expr, f func(Expr) Expr) Expr {
	if r := f(e); r != nil {
		return r
	}
	switch x := e.(type) {
	case *Call:
		args := make([]Expr, len(x.Args))
		for i, a := range x.Args {
			args[i] = rewrite(a, f)
		}
		return &Call{Name: x.Name, Args: args, T: x.T}
	case *Cast:
		return &Cast{E: rewrite(x.E, f), T: x.T}
	case *Subquery:
		n := *x
		if x.Arg != nil {
			n.Arg = rewrite(x.Arg, f)
		}
		n.Outer = make([]Expr, len(x.Outer))
		for i, o := range x.Outer {
			n.Outer[i] = rewrite(o, f)
		}
		return &n
	case *Case:
		c := &Case{T: x.T}
		for _, w := range x.Whens {
			c.Whens = append(c.Whens, When{rewrite(w.Cond, f), rewrite(w.Result, f)})
		}
		if x.Else != nil {
			c.Else = rewrite(x.Else, f)
		}
		return c
	}
	return e
}

// visit calls f on every node of e.
func visit(e Expr, f func(Expr)) {
	f(e)
	switch x := e.(type) {
	case *Call:
		for _, a := range x.Args {
			visit(a, f)
		}
	case *Cast:
		visit(x.E, f)
	case *Subquery:
		if x.Arg != nil {
			visit(x.Arg, f)
		}
		for _, o := range x.Outer {
			visit(o, f)
		}
	case *Case:
		for _, w := range x.Whens {
			visit(w.Cond, f)
			visit(w.Result, f)
		}
		if x.Else != nil {
			visit(x.Else, f)
		}
	}
}

// Visit calls f on e and every expression under it.
func Visit(e Expr, f func(Expr)) { visit(e, f) }
