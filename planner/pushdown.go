package planner

import (
	"math"

	"github.com/ugnos/ugnos/functions"
)

// conjuncts splits an AND tree.
func conjuncts(e Expr, out []Expr) []Expr {
	if c, ok := e.(*Call); ok && c.Name == "and" {
		for _, a := range c.Args {
			out = conjuncts(a, out)
		}
		return out
	}
	return append(out, e)
}

var flipped = map[string]string{">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": "=", "<>": "<>"}

// pushDown moves time bounds and tag predicates of where into scan and
// returns what is left to filter (nil: nothing). Only exact predicates move.
func pushDown(scan *Scan, where Expr, sc *scope) Expr {
	var rest []Expr
	for _, c := range conjuncts(where, nil) {
		if !pushOne(scan, c) {
			rest = append(rest, c)
		}
	}
	if scan.MinT > scan.MaxT {
		scan.Empty = true
	}
	switch len(rest) {
	case 0:
		return nil
	case 1:
		return rest[0]
	}
	return &Call{Name: "and", Args: rest, T: functions.TBool}
}

func pushOne(scan *Scan, e Expr) bool {
	if k, ok := e.(*Const); ok && !isParam(k) {
		if k.V == nil || k.V == false {
			scan.Empty = true
			return true
		}
		return k.V == true
	}
	c, ok := e.(*Call)
	if !ok {
		return false
	}
	switch c.Name {
	case ">", ">=", "<", "<=", "=", "<>":
		col, k, op := colConst(c)
		if col == nil || k.V == nil {
			return false
		}
		sc := scan.Cols[col.Idx]
		if sc.Kind == KindField && sc.T.Numeric() && k.T.Numeric() {
			hintRange(scan, sc.Name, op, k)
			return false // exact filtering stays above the scan
		}
		switch {
		case sc.Kind == KindTime && k.T == functions.TTimestamp && op != "<>":
			t := k.V.(int64)
			switch op {
			case ">":
				if t == math.MaxInt64 {
					scan.Empty = true
					return true
				}
				scan.MinT = max(scan.MinT, t+1)
			case ">=":
				scan.MinT = max(scan.MinT, t)
			case "<":
				if t == math.MinInt64 {
					scan.Empty = true
					return true
				}
				scan.MaxT = min(scan.MaxT, t-1)
			case "<=":
				scan.MaxT = min(scan.MaxT, t)
			case "=":
				scan.MinT, scan.MaxT = max(scan.MinT, t), min(scan.MaxT, t)
			}
			return true
		case sc.Kind == KindTag && k.T == functions.TText && (op == "=" || op == "<>"):
			v := k.V.(string)
			if v == "" { // stored as absent (NULL): leave to the filter
				return false
			}
			scan.Tags = append(scan.Tags, TagFilter{Column: sc.Name, Op: op, Values: []string{v}})
			return true
		}
	case "~~", "~~*", "!~~", "!~~*":
		// tag LIKE 'pattern': the executor matches the pattern against the
		// tag's distinct values and scans only the matching series
		col, ok := c.Args[0].(*Col)
		k, kok := c.Args[1].(*Const)
		if !ok || !kok || scan.Cols[col.Idx].Kind != KindTag || k.V == nil || isParam(k) || k.T != functions.TText {
			return false
		}
		op := map[string]string{"~~": "like", "~~*": "ilike", "!~~": "not like", "!~~*": "not ilike"}[c.Name]
		scan.Tags = append(scan.Tags, TagFilter{Column: scan.Cols[col.Idx].Name, Op: op, Values: []string{k.V.(string)}})
		return true
	case "in":
		return pushIn(scan, c, "in")
	case "not":
		if in, ok := c.Args[0].(*Call); ok && in.Name == "in" {
			return pushIn(scan, in, "not in")
		}
	}
	return false
}

// hintRange records a zone-map hint for "field op constant".
func hintRange(scan *Scan, name, op string, k *Const) {
	var v float64
	switch x := k.V.(type) {
	case int64:
		v = float64(x)
	case float64:
		v = x
	default:
		return
	}
	if v != v {
		return
	}
	r := FieldRange{Column: name, Min: math.Inf(-1), Max: math.Inf(1)}
	switch op {
	case ">", ">=":
		r.Min = v // ">" is a looser inclusive bound; fine for pruning
	case "<", "<=":
		r.Max = v
	case "=":
		r.Min, r.Max = v, v
	default:
		return
	}
	scan.Ranges = append(scan.Ranges, r)
}

func pushIn(scan *Scan, c *Call, op string) bool {
	col, ok := c.Args[0].(*Col)
	if !ok || scan.Cols[col.Idx].Kind != KindTag {
		return false
	}
	var vals []string
	for _, a := range c.Args[1:] {
		k, ok := a.(*Const)
		if !ok || k.V == nil || k.T != functions.TText || isParam(k) || k.V.(string) == "" {
			return false
		}
		vals = append(vals, k.V.(string))
	}
	scan.Tags = append(scan.Tags, TagFilter{Column: scan.Cols[col.Idx].Name, Op: op, Values: vals})
	return true
}

// colConst matches "col op const" or "const op col" (flipping op).
func colConst(c *Call) (*Col, *Const, string) {
	if len(c.Args) != 2 {
		return nil, nil, ""
	}
	if col, ok := c.Args[0].(*Col); ok {
		if k, ok := c.Args[1].(*Const); ok && !isParam(k) {
			return col, k, c.Name
		}
	}
	if col, ok := c.Args[1].(*Col); ok {
		if k, ok := c.Args[0].(*Const); ok && !isParam(k) {
			return col, k, flipped[c.Name]
		}
	}
	return nil, nil, ""
}

// pruneScan keeps only the scan columns the plan above reads and
// renumbers the column references of the nodes that read the scan.
func pruneScan(scan *Scan, sc *scope, top Node) {
	// the readers: nodes from just above the scan up to the first node
	// that is not a Filter
	var chain []Node
	for n := top; n != nil && n != Node(scan); {
		chain = append(chain, n)
		kids := n.Children()
		if len(kids) != 1 {
			return
		}
		n = kids[0]
	}
	var readers []Node
	for i := len(chain) - 1; i >= 0; i-- {
		readers = append(readers, chain[i])
		_, filter := chain[i].(*Filter)
		_, window := chain[i].(*Window)
		if !filter && !window { // only these pass the scan's columns through
			break
		}
	}
	used := make([]bool, len(scan.Cols))
	mark := func(e Expr) {
		if e == nil {
			return
		}
		visit(e, func(x Expr) {
			if c, ok := x.(*Col); ok && c.Idx < len(used) {
				used[c.Idx] = true
			}
		})
	}
	for _, r := range readers {
		forExprs(r, mark)
	}
	keep := false
	for _, u := range used {
		keep = keep || u
	}
	if !keep {
		for i, c := range scan.Cols {
			if c.Kind == KindTime {
				used[i] = true
			}
		}
		if len(used) > 0 && scan.Cols[0].Kind != KindTime {
			used[0] = true // a system relation: no time column; keep one for the row count
		}
	}
	remap := make([]int, len(scan.Cols))
	var cols []ScanColumn
	for i, c := range scan.Cols {
		remap[i] = -1
		if used[i] {
			remap[i] = len(cols)
			cols = append(cols, c)
		}
	}
	oldN := len(scan.Cols)
	scan.Cols = cols
	re := func(e Expr) Expr {
		if e == nil {
			return nil
		}
		return rewrite(e, func(x Expr) Expr {
			if c, ok := x.(*Col); ok {
				if c.Idx >= oldN { // a column a Window added
					return &Col{Idx: c.Idx - oldN + len(cols), Name: c.Name, T: c.T}
				}
				return &Col{Idx: remap[c.Idx], Name: c.Name, T: c.T}
			}
			return nil
		})
	}
	for _, r := range readers {
		switch n := r.(type) {
		case *Filter:
			n.Pred = re(n.Pred)
		case *Project:
			for i := range n.Exprs {
				n.Exprs[i] = re(n.Exprs[i])
			}
		case *Window:
			n.Out = append(append([]Column(nil), scan.Columns()...), n.Out[oldN:]...)
			for i := range n.Calls {
				c := &n.Calls[i]
				for j := range c.Args {
					c.Args[j] = re(c.Args[j])
				}
				for j := range c.Partition {
					c.Partition[j] = re(c.Partition[j])
				}
				for j := range c.Order {
					c.Order[j] = re(c.Order[j])
				}
			}
		case *Aggregate:
			for i := range n.Groups {
				n.Groups[i] = re(n.Groups[i])
			}
			for i := range n.Aggs {
				for j := range n.Aggs[i].Args {
					n.Aggs[i].Args[j] = re(n.Aggs[i].Args[j])
				}
				n.Aggs[i].Filter = re(n.Aggs[i].Filter)
			}
		}
	}
}

// forExprs calls f on every expression a node holds.
func forExprs(n Node, f func(Expr)) {
	switch n := n.(type) {
	case *Window:
		for _, c := range n.Calls {
			for _, e := range c.Args {
				f(e)
			}
			for _, e := range c.Partition {
				f(e)
			}
			for _, e := range c.Order {
				f(e)
			}
		}
	case *Filter:
		f(n.Pred)
	case *Project:
		for _, e := range n.Exprs {
			f(e)
		}
	case *Aggregate:
		for _, e := range n.Groups {
			f(e)
		}
		for _, a := range n.Aggs {
			for _, e := range a.Args {
				f(e)
			}
			f(a.Filter)
		}
	}
}
