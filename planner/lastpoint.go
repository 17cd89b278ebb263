package planner

import "strings"

// LastPoint reads, instead of every row of Scan, each series' rows at its
// latest time (the storage keeps that time per series). The planner puts
// it under plans whose result those rows decide alone: DISTINCT ON (tags)
// ... ORDER BY tags, time DESC, and aggregates of last(x, time) and
// max(time) grouped by tags. Scan spans all time; its tag predicates
// apply.
type LastPoint struct {
	Scan *Scan
}

func (n *LastPoint) Columns() []Column { return n.Scan.Columns() }
func (n *LastPoint) Children() []Node  { return nil }
func (n *LastPoint) Describe() string {
	return "LastPoint " + strings.TrimPrefix(n.Scan.Describe(), "Scan ")
}

// useLastPoint replaces, in the plan n of one SELECT, a Scan read by a
// last-point query with a LastPoint. Anything else (a time range, field
// predicates, other orders or aggregates) keeps its plan.
func useLastPoint(n Node) Node {
	var walk func(n Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *Distinct:
			if srt, ok := n.Input.(*Sort); ok {
				if p, ok := srt.Input.(*Project); ok {
					if scan, ok := p.Input.(*Scan); ok && distinctOnLatest(n.On, srt.Keys, p.Exprs, scan) {
						p.Input = &LastPoint{Scan: scan}
						return
					}
				}
			}
		case *Aggregate:
			if scan, ok := n.Input.(*Scan); ok && aggLatest(n, scan) {
				n.Input = &LastPoint{Scan: scan}
				return
			}
		}
		for _, c := range n.Children() {
			walk(c)
		}
	}
	walk(n)
	return n
}

// allTime reports whether a scan reads every row of its series.
func allTime(s *Scan) bool {
	return s.MinT == minTime && s.MaxT == maxTime && len(s.Ranges) == 0 && !s.Empty
}

// scanColOf returns the scan column that e reads directly, if it does.
func scanColOf(e Expr, s *Scan) (ScanColumn, bool) {
	c, ok := e.(*Col)
	if !ok || c.Idx < 0 || c.Idx >= len(s.Cols) {
		return ScanColumn{}, false
	}
	return s.Cols[c.Idx], true
}

// distinctOnLatest reports whether DISTINCT ON (on) with ORDER BY keys
// over exprs of scan keeps only rows at their series' latest time: the
// DISTINCT ON items are tag columns and the next key is time descending.
func distinctOnLatest(on []int, keys []SortKey, exprs []Expr, s *Scan) bool {
	if len(on) == 0 || len(keys) <= len(on) || !allTime(s) {
		return false
	}
	for _, k := range keys[:len(on)] {
		if !containsCol(on, k.Col) {
			return false
		}
	}
	for _, c := range on {
		if sc, ok := scanColOf(exprs[c], s); !ok || sc.Kind != KindTag {
			return false
		}
	}
	k := keys[len(on)]
	sc, ok := scanColOf(exprs[k.Col], s)
	return ok && sc.Kind == KindTime && k.Desc
}

// aggLatest reports whether an aggregate over scan depends only on the
// rows at each series' latest time: it groups by tag columns and computes
// last(x, time) or max(time) only.
func aggLatest(a *Aggregate, s *Scan) bool {
	if len(a.Aggs) == 0 || !allTime(s) {
		return false
	}
	for _, g := range a.Groups {
		if sc, ok := scanColOf(g, s); !ok || sc.Kind != KindTag {
			return false
		}
	}
	isTime := func(e Expr) bool {
		sc, ok := scanColOf(e, s)
		return ok && sc.Kind == KindTime
	}
	for _, c := range a.Aggs {
		if c.Filter != nil || c.Distinct {
			return false
		}
		switch {
		case c.Name == "last" && len(c.Args) == 2 && isTime(c.Args[1]):
		case c.Name == "max" && len(c.Args) == 1 && isTime(c.Args[0]):
		default:
			return false
		}
	}
	return true
}
