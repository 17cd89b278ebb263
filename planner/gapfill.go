package planner

import (
	"fmt"
	"strings"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// Gap filling (TimescaleDB's time_bucket_gapfill with locf and
// interpolate) is planned as a GapFill node over the aggregate's output,
// sorted by the other group columns and then the bucket:
//
//	Aggregate → [Filter (HAVING)] → Sort (groups, bucket) → GapFill → Project → …

// Fill is how a GapFill output column is filled in buckets without data.
type Fill struct {
	Src  int    // input column it reads
	Mode string // "locf" or "interpolate"
	// Prev is locf's value before the first bucket with data (nil: NULL).
	Prev any
	// SkipNulls (locf's treat_null_as_missing): NULLs are not carried
	// forward, and rows with data but a NULL value are filled too.
	SkipNulls bool
	T         functions.Type
}

// GapFill emits, for each group of its input (rows with equal Groups
// columns; the input is sorted by Groups then Bucket), one row per bucket
// of Width ns aligned to Origin whose start lies in [Start, Finish), plus
// the input rows outside that range. Rows it adds carry the group's values
// and the bucket, and NULL in the other input columns. Its output is its
// input's columns followed by one column per Fill.
type GapFill struct {
	Input         Node
	Bucket        int
	Groups        []int
	Start, Finish int64 // Finish exclusive
	Width, Origin int64
	Fills         []Fill
	Out           []Column
}

func (n *GapFill) Columns() []Column { return n.Out }
func (n *GapFill) Children() []Node  { return []Node{n.Input} }
func (n *GapFill) Describe() string {
	s := fmt.Sprintf("GapFill bucket=#%d groups=%v range=[%s, %s) width=%s", n.Bucket, n.Groups,
		fmtTime(n.Start), fmtTime(n.Finish), functions.FormatInterval(functions.Interval{Nanos: n.Width}))
	for _, f := range n.Fills {
		s += fmt.Sprintf(" %s(#%d)", f.Mode, f.Src)
	}
	return s
}

// gapfillSpec is what the SELECT asks of gap filling, found before the
// aggregate's outputs are lifted.
type gapfillSpec struct {
	call  *Call          // the time_bucket_gapfill call
	group int            // its GROUP BY item
	fills map[int]string // SELECT item → "locf" / "interpolate"
}

func isGapfillCall(e Expr) bool {
	c, ok := e.(*Call)
	return ok && c.Name == "time_bucket_gapfill"
}

func fillName(e Expr) string {
	if c, ok := e.(*Call); ok && (c.Name == "locf" || c.Name == "interpolate") {
		return c.Name
	}
	return ""
}

// gapfillUses returns the gap-filling calls anywhere in e.
func gapfillUses(e Expr) (gaps []*Call, fills []string) {
	if e == nil {
		return nil, nil
	}
	visit(e, func(x Expr) {
		if isGapfillCall(x) {
			gaps = append(gaps, x.(*Call))
		} else if f := fillName(x); f != "" {
			fills = append(fills, f)
		}
	})
	return gaps, fills
}

func gapfillUnsupported(what string) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "%s is not supported", what)
}

// analyzeGapfill checks the uses of time_bucket_gapfill, locf and
// interpolate in a SELECT (before aggregates are lifted); nil when there
// are none. sorts are the bound ORDER BY expressions (nil items allowed);
// other are the WHERE and HAVING conditions.
func analyzeGapfill(groups, targets, sorts, other []Expr) (*gapfillSpec, error) {
	seen := map[string]bool{}
	anyFill := ""
	note := func(e Expr) {
		g, f := gapfillUses(e)
		for _, c := range g {
			seen[c.String()] = true
		}
		if len(f) > 0 && anyFill == "" {
			anyFill = f[0]
		}
	}
	for _, l := range [][]Expr{groups, targets, sorts, other} {
		for _, e := range l {
			note(e)
		}
	}
	if len(seen) == 0 && anyFill == "" {
		return nil, nil
	}
	if len(seen) > 1 {
		return nil, gapfillUnsupported("more than one time_bucket_gapfill call")
	}
	if len(seen) == 0 {
		return nil, gapfillUnsupported(anyFill + " without time_bucket_gapfill")
	}
	for _, e := range other {
		if g, f := gapfillUses(e); len(g)+len(f) > 0 {
			return nil, gapfillUnsupported("time_bucket_gapfill, locf or interpolate in WHERE or HAVING")
		}
	}
	for _, e := range sorts {
		g, f := gapfillUses(e)
		if len(f) > 0 {
			return nil, gapfillUnsupported(f[0] + " in ORDER BY")
		}
		if len(g) > 0 && !isGapfillCall(e) {
			return nil, gapfillUnsupported("time_bucket_gapfill nested in an expression")
		}
	}
	spec := &gapfillSpec{group: -1, fills: map[int]string{}}
	for i, e := range groups {
		g, f := gapfillUses(e)
		if len(f) > 0 {
			return nil, gapfillUnsupported(f[0] + " in GROUP BY")
		}
		if len(g) == 0 {
			continue
		}
		if !isGapfillCall(e) {
			return nil, gapfillUnsupported("time_bucket_gapfill nested in an expression")
		}
		spec.call, spec.group = e.(*Call), i
	}
	for i, e := range targets {
		g, f := gapfillUses(e)
		switch {
		case isGapfillCall(e):
			continue
		case len(g) > 0:
			return nil, gapfillUnsupported("time_bucket_gapfill nested in an expression")
		case len(f) == 0:
			continue
		case len(f) > 1 || fillName(e) == "":
			return nil, gapfillUnsupported(f[0] + " nested in an expression")
		}
		spec.fills[i] = fillName(e)
	}
	if spec.group < 0 {
		if len(groups) == 0 {
			return nil, gapfillUnsupported("time_bucket_gapfill without GROUP BY")
		}
		return nil, gapfillUnsupported("time_bucket_gapfill that is not a GROUP BY item")
	}
	return spec, nil
}

// planGapfill puts the GapFill node over node (the aggregate, with its
// HAVING filter) and points the locf / interpolate SELECT items at its fill
// columns. scan is the single table the query reads (nil otherwise): its
// pushed-down time range gives a missing start or finish.
func (q *query) planGapfill(spec *gapfillSpec, node Node, ngroups int, targets []Expr, scan *Scan) (Node, error) {
	args := spec.call.Args
	w, ok := args[0].(*Const)
	if !ok || w.V == nil || isParam(w) {
		return nil, gapfillUnsupported("a time_bucket_gapfill width that is not a constant")
	}
	iv, _ := w.V.(functions.Interval)
	width, err := functions.GapfillWidth(iv)
	if err != nil {
		return nil, err
	}
	start, finish, err := gapfillRange(args, scan)
	if err != nil && q.b.p.InferParams && errs.SQLState(err) == errs.CodeInvalidParameter {
		// typing parameters: the range may come from their values
		start, finish, err = 0, 0, nil
	}
	if err != nil {
		return nil, err
	}
	gf := &GapFill{Bucket: spec.group, Start: start, Finish: finish, Width: width, Origin: functions.GapfillOrigin()}
	keys := make([]SortKey, 0, ngroups)
	for i := 0; i < ngroups; i++ {
		if i != spec.group {
			gf.Groups = append(gf.Groups, i)
			keys = append(keys, SortKey{Col: i})
		}
	}
	keys = append(keys, SortKey{Col: spec.group})
	gf.Input = &Sort{Input: node, Keys: keys}
	gf.Out = append([]Column(nil), node.Columns()...)
	for i := range targets {
		mode, ok := spec.fills[i]
		if !ok {
			continue
		}
		c := targets[i].(*Call)
		src, ok := c.Args[0].(*Col)
		if !ok {
			return nil, gapfillUnsupported(mode + " of an expression that is not an aggregate or group column")
		}
		f := Fill{Src: src.Idx, Mode: mode, T: c.T}
		if len(c.Args) == 3 {
			k, ok := c.Args[2].(*Const)
			if !ok || isParam(k) {
				return nil, gapfillUnsupported("locf with treat_null_as_missing that is not a constant")
			}
			f.SkipNulls = k.V == true
		}
		if len(c.Args) >= 2 {
			k, ok := c.Args[1].(*Const)
			if !ok || isParam(k) {
				return nil, gapfillUnsupported("locf with a previous value that is not a constant")
			}
			if k.V != nil && (c.T != functions.TFloat && c.T != functions.TInt || !k.T.Numeric()) {
				return nil, gapfillUnsupported("locf with a previous value of type " + c.T.Name())
			}
			f.Prev = k.V
			if k.V != nil && c.T == functions.TFloat {
				f.Prev = toFloat(k.V)
			} else if k.V != nil {
				v, ok := k.V.(int64)
				if !ok {
					return nil, gapfillUnsupported("locf with a previous value of type " + k.T.Name() + " for a bigint")
				}
				f.Prev = v
			}
		}
		targets[i] = &Col{Idx: len(gf.Out), Name: mode, T: c.T}
		gf.Fills = append(gf.Fills, f)
		gf.Out = append(gf.Out, Column{Name: mode, T: c.T})
	}
	return gf, nil
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int64:
		return float64(x)
	}
	return 0
}

// gapfillRange is the [start, finish) of time_bucket_gapfill: its
// arguments, or else the time range the WHERE clause put on the scan of
// the time column.
func gapfillRange(args []Expr, scan *Scan) (int64, int64, error) {
	arg := func(i int) (int64, bool, error) {
		if len(args) <= i {
			return 0, false, nil
		}
		k, ok := args[i].(*Const)
		if !ok || isParam(k) {
			return 0, false, gapfillUnsupported("a time_bucket_gapfill start or finish that is not a constant")
		}
		if k.V == nil {
			return 0, false, nil
		}
		return k.V.(int64), true, nil
	}
	start, hasStart, err := arg(functions.GapfillStart)
	if err != nil {
		return 0, 0, err
	}
	finish, hasFinish, err := arg(functions.GapfillFinish)
	if err != nil {
		return 0, 0, err
	}
	var col *ScanColumn
	if c, ok := args[1].(*Col); ok && scan != nil && c.Idx < len(scan.Cols) && scan.Cols[c.Idx].Kind == KindTime {
		col = &scan.Cols[c.Idx]
	}
	if !hasStart {
		if col == nil || scan.MinT == minTime {
			return 0, 0, missingArg("start")
		}
		start = scan.MinT
	}
	if !hasFinish {
		if col == nil || scan.MaxT == maxTime {
			return 0, 0, missingArg("finish")
		}
		finish = scan.MaxT + 1
	}
	return start, finish, nil
}

func missingArg(which string) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter,
		"missing time_bucket_gapfill argument: could not infer %s from WHERE clause", strings.ToLower(which))
}
