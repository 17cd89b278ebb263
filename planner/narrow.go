package planner

import "github.com/ugnos/ugnos/functions"

// narrowSubquery lets the WHERE of a query over a subquery or view narrow
// the scans inside it: a time bound or tag comparison on a column that a
// UNION ALL of plain SELECTs passes through unchanged is applied to the
// scans it comes from (time range, series). The WHERE itself stays above,
// so this only makes scans read less; it stops at anything that changes
// rows (aggregates, LIMIT, DISTINCT, joins). Continuous aggregates rely on
// it: their view is such a union over the materialization.
func narrowSubquery(n Node, where Expr) {
	for _, c := range conjuncts(where, nil) {
		call, ok := c.(*Call)
		if !ok {
			continue
		}
		switch call.Name {
		case ">", ">=", "<", "<=", "=":
		default:
			continue
		}
		col, k, op := colConst(call)
		if col == nil || k.V == nil {
			continue
		}
		narrow(n, col.Idx, k, op)
	}
}

func narrow(n Node, idx int, k *Const, op string) {
	switch x := n.(type) {
	case *SetOp:
		if x.Op == "union" && x.All {
			narrow(x.Left, idx, k, op)
			narrow(x.Right, idx, k, op)
		}
	case *Project:
		if idx < len(x.Exprs) {
			if c, ok := x.Exprs[idx].(*Col); ok {
				narrow(x.Input, c.Idx, k, op)
			}
		}
	case *Filter:
		narrow(x.Input, idx, k, op)
	case *Scan:
		if idx < len(x.Cols) && x.Cols[idx].T == k.T {
			sc := x.Cols[idx]
			pushOne(x, &Call{Name: op, Args: []Expr{&Col{Idx: idx, Name: sc.Name, T: sc.T}, k}, T: functions.TBool})
			if x.MinT > x.MaxT {
				x.Empty = true
			}
		}
	}
}

// plainScan returns the scan under a view's plan that is nothing but that
// scan's columns in order (SELECT a, b, c FROM t [WHERE what the scan took
// in]); nil otherwise.
func plainScan(n Node) *Scan {
	p, ok := n.(*Project)
	if !ok {
		return nil
	}
	scan, ok := p.Input.(*Scan)
	if !ok || len(p.Exprs) != len(scan.Cols) || len(p.Out) != len(scan.Cols) {
		return nil
	}
	for i, e := range p.Exprs {
		c, ok := e.(*Col)
		if !ok || c.Idx != i || p.Out[i].T != scan.Cols[i].T || p.Out[i].PGType != "" {
			return nil
		}
	}
	return scan
}
