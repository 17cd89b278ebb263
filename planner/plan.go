package planner

import (
	"fmt"
	"strings"

	"github.com/ugnos/ugnos/functions"
)

// Column is an output column of a node.
type Column struct {
	Name string
	T    functions.Type
	// PGType is the PostgreSQL type (pg_type.typname) the column is sent
	// as when T is wider or plainer ("oid", "name", "int4", …); "" if T
	// says it. See SystemCatalog.
	PGType string
}

// Node is a plan node.
type Node interface {
	Columns() []Column
	Children() []Node
	// Describe is the node's one-line EXPLAIN text.
	Describe() string
}

// ColumnKind mirrors the storage kinds the scan needs.
type ColumnKind uint8

const (
	KindTime ColumnKind = iota
	KindTag
	KindField
)

// TagFilter is a tag predicate pushed into a Scan.
type TagFilter struct {
	Column string
	Op     string // "=", "<>", "in", "not in"
	Values []string
}

// ScanColumn is a stored column read by a Scan.
type ScanColumn struct {
	Name   string
	Kind   ColumnKind
	T      functions.Type
	PGType string // as in Column
}

// Scan reads a table with pushed-down time range and tag predicates.
type Scan struct {
	Table      string
	Cols       []ScanColumn
	MinT, MaxT int64 // inclusive
	Tags       []TagFilter
	Ranges     []FieldRange // zone-map hints (the filter stays above)
	Empty      bool         // the predicates are contradictory: no rows
}

// FieldRange is a zone-map hint on a numeric field: Min <= v <= Max.
type FieldRange struct {
	Column   string
	Min, Max float64
}

// Values produces constant rows.
type Values struct {
	Rows [][]Expr
	Out  []Column
}

// Series is generate_series(Start, Stop, Step) in FROM: bigint (Step in
// StepInt) or timestamptz (Step an interval) values from Start while not
// past Stop.
type Series struct {
	Start, Stop int64
	StepInt     int64
	StepIv      functions.Interval
	Out         []Column // one column: bigint or timestamptz
}

// Filter keeps rows where Pred is true.
type Filter struct {
	Input Node
	Pred  Expr
}

// Project computes expressions over its input.
type Project struct {
	Input Node
	Exprs []Expr
	Out   []Column
}

// AggCall is one aggregate of an Aggregate node.
type AggCall struct {
	Name     string
	Args     []Expr // empty for count(*)
	ArgTypes []functions.Type
	Filter   Expr // FILTER (WHERE ...), nil if none
	Distinct bool // count(DISTINCT x): each distinct argument value once per group
	T        functions.Type
}

// Aggregate groups its input by Groups and computes Aggs; its output is
// the group values followed by the aggregates.
type Aggregate struct {
	Input  Node
	Groups []Expr
	Aggs   []AggCall
	Out    []Column
}

// SortKey orders by an input column.
type SortKey struct {
	Col        int
	Desc       bool
	NullsFirst bool
}

// Sort orders its input.
type Sort struct {
	Input Node
	Keys  []SortKey
}

// Distinct keeps the first row of each distinct value of the On columns
// (all columns when On is nil), in input order.
type Distinct struct {
	Input Node
	On    []int
}

// Frame is a window frame. Offsets are constants (rows for ROWS; for
// RANGE, a number or an interval in ns on the single ORDER BY key).
type Frame struct {
	Rows           bool // ROWS (else RANGE)
	StartUnbounded bool // UNBOUNDED PRECEDING
	StartCurrent   bool
	StartOffset    float64 // > 0: n PRECEDING; < 0: n FOLLOWING (when not unbounded/current)
	EndUnbounded   bool    // UNBOUNDED FOLLOWING
	EndCurrent     bool
	EndOffset      float64 // > 0: n FOLLOWING; < 0: n PRECEDING
}

// WindowCall is one window function over its partition and order.
type WindowCall struct {
	Name       string
	Args       []Expr
	ArgTypes   []functions.Type
	Agg        bool // an aggregate used as a window function
	Partition  []Expr
	Order      []Expr
	Desc       []bool
	NullsFirst []bool
	Frame      Frame
	T          functions.Type
}

// Window appends one column per call to its input's columns.
type Window struct {
	Input Node
	Calls []WindowCall
	Out   []Column
}

// Join combines two inputs: rows of Left followed by columns of Right.
// LeftKeys[i] (over Left's columns) = RightKeys[i] (over Right's columns)
// are the equality keys (none: every pair is a candidate); Residual (over
// the combined columns) must also hold. Type is inner, left, right or full.
type Join struct {
	Type                string
	Left, Right         Node
	LeftKeys, RightKeys []Expr
	Residual            Expr
	Out                 []Column
}

// SetOp combines two inputs with the same column count: UNION,
// INTERSECT or EXCEPT, with or without ALL. Inputs are already projected
// to the output types.
type SetOp struct {
	Op          string // "union", "intersect", "except"
	All         bool
	Left, Right Node
	Out         []Column
}

// Limit skips Offset rows and returns at most Count (-1: all).
type Limit struct {
	Input  Node
	Count  int64
	Offset int64
}

func (n *Scan) Columns() []Column {
	out := make([]Column, len(n.Cols))
	for i, c := range n.Cols {
		out[i] = Column{Name: c.Name, T: c.T, PGType: c.PGType}
	}
	return out
}
func (n *Values) Columns() []Column    { return n.Out }
func (n *Series) Columns() []Column    { return n.Out }
func (n *Filter) Columns() []Column    { return n.Input.Columns() }
func (n *Project) Columns() []Column   { return n.Out }
func (n *Aggregate) Columns() []Column { return n.Out }
func (n *Sort) Columns() []Column      { return n.Input.Columns() }
func (n *Distinct) Columns() []Column  { return n.Input.Columns() }
func (n *Limit) Columns() []Column     { return n.Input.Columns() }
func (n *SetOp) Columns() []Column     { return n.Out }
func (n *Window) Columns() []Column    { return n.Out }
func (n *Join) Columns() []Column      { return n.Out }
func (n *Join) Children() []Node       { return []Node{n.Left, n.Right} }
func (n *Join) Describe() string {
	s := "Join " + n.Type
	for i := range n.LeftKeys {
		s += " " + n.LeftKeys[i].String() + " = " + n.RightKeys[i].String()
	}
	if n.Residual != nil {
		s += " filter " + n.Residual.String()
	}
	return s
}
func (n *Window) Children() []Node { return []Node{n.Input} }
func (n *Window) Describe() string {
	parts := make([]string, len(n.Calls))
	for i, c := range n.Calls {
		args := make([]string, len(c.Args))
		for j, a := range c.Args {
			args[j] = a.String()
		}
		parts[i] = c.Name + "(" + strings.Join(args, ", ") + ")"
	}
	return "Window " + strings.Join(parts, ", ")
}
func (n *SetOp) Children() []Node { return []Node{n.Left, n.Right} }
func (n *SetOp) Describe() string {
	if n.All {
		return "SetOp " + n.Op + " all"
	}
	return "SetOp " + n.Op
}

func (n *Scan) Children() []Node      { return nil }
func (n *Values) Children() []Node    { return nil }
func (n *Series) Children() []Node    { return nil }
func (n *Filter) Children() []Node    { return []Node{n.Input} }
func (n *Project) Children() []Node   { return []Node{n.Input} }
func (n *Aggregate) Children() []Node { return []Node{n.Input} }
func (n *Sort) Children() []Node      { return []Node{n.Input} }
func (n *Distinct) Children() []Node  { return []Node{n.Input} }
func (n *Limit) Children() []Node     { return []Node{n.Input} }

func (n *Scan) Describe() string {
	names := make([]string, len(n.Cols))
	for i, c := range n.Cols {
		names[i] = c.Name
	}
	s := fmt.Sprintf("Scan %s columns=[%s]", n.Table, strings.Join(names, ", "))
	if n.MinT != minTime || n.MaxT != maxTime {
		s += fmt.Sprintf(" time=[%s, %s]", fmtTime(n.MinT), fmtTime(n.MaxT))
	}
	for _, f := range n.Tags {
		s += fmt.Sprintf(" %s %s (%s)", f.Column, f.Op, strings.Join(f.Values, ", "))
	}
	for _, r := range n.Ranges {
		s += fmt.Sprintf(" prune %s in [%v, %v]", r.Column, r.Min, r.Max)
	}
	if n.Empty {
		s += " empty"
	}
	return s
}

func fmtTime(t int64) string {
	switch t {
	case minTime:
		return "-inf"
	case maxTime:
		return "+inf"
	}
	return functions.FormatTimestamp(t)
}

func (n *Values) Describe() string { return fmt.Sprintf("Values rows=%d", len(n.Rows)) }
func (n *Series) Describe() string {
	if n.Out[0].T == functions.TTimestamp {
		return fmt.Sprintf("Series %s .. %s step %s", functions.FormatTimestamp(n.Start), functions.FormatTimestamp(n.Stop), functions.FormatInterval(n.StepIv))
	}
	return fmt.Sprintf("Series %d .. %d step %d", n.Start, n.Stop, n.StepInt)
}
func (n *Filter) Describe() string { return "Filter " + n.Pred.String() }
func (n *Project) Describe() string {
	parts := make([]string, len(n.Exprs))
	for i, e := range n.Exprs {
		parts[i] = e.String()
	}
	return "Project " + strings.Join(parts, ", ")
}
func (n *Aggregate) Describe() string {
	g := make([]string, len(n.Groups))
	for i, e := range n.Groups {
		g[i] = e.String()
	}
	a := make([]string, len(n.Aggs))
	for i, c := range n.Aggs {
		args := make([]string, len(c.Args))
		for j, e := range c.Args {
			args[j] = e.String()
		}
		if len(args) == 0 {
			args = []string{"*"}
		}
		d := ""
		if c.Distinct {
			d = "DISTINCT "
		}
		a[i] = c.Name + "(" + d + strings.Join(args, ", ") + ")"
		if c.Filter != nil {
			a[i] += " FILTER (" + c.Filter.String() + ")"
		}
	}
	return fmt.Sprintf("Aggregate groups=[%s] aggs=[%s]", strings.Join(g, ", "), strings.Join(a, ", "))
}
func (n *Sort) Describe() string {
	k := make([]string, len(n.Keys))
	cols := n.Input.Columns()
	for i, s := range n.Keys {
		k[i] = cols[s.Col].Name
		if s.Desc {
			k[i] += " DESC"
		}
		if s.NullsFirst != s.Desc {
			if s.NullsFirst {
				k[i] += " NULLS FIRST"
			} else {
				k[i] += " NULLS LAST"
			}
		}
	}
	return "Sort " + strings.Join(k, ", ")
}
func (n *Distinct) Describe() string {
	if n.On == nil {
		return "Distinct"
	}
	return fmt.Sprintf("Distinct on=%v", n.On)
}
func (n *Limit) Describe() string { return fmt.Sprintf("Limit count=%d offset=%d", n.Count, n.Offset) }

// Explain renders a plan as an indented tree.
func Explain(n Node) string { return ExplainWith(n, nil) }

// ExplainWith renders a plan, appending annotate(node) to each line.
func ExplainWith(n Node, annotate func(Node) string) string {
	var b strings.Builder
	var walk func(n Node, depth int)
	walk = func(n Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(n.Describe())
		if annotate != nil {
			b.WriteString("  " + annotate(n))
		}
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}
