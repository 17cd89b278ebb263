package planner

import (
	"fmt"
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/sql"
)

// Catalog resolves tables of the statement's tenant.
type Catalog interface {
	// Table returns a table's stored columns, or an error of kind
	// errs.ErrNotFound (SQLSTATE 42P01).
	Table(name string) ([]ScanColumn, error)
	// View returns the SELECT text of a view, if name is one.
	View(name string) (string, bool)
}

// Planner binds and plans statements. Now is the statement's now().
type Planner struct {
	Cat Catalog
	Reg *functions.Registry
	Now time.Time
	// Params are the values of $1, $2, ...: nil, bool, any Go integer,
	// float32/float64, string (typed by context, like a quoted literal) or
	// time.Time.
	Params []any
	// InferParams plans without parameter values, recording in ParamTypes
	// the type each $n is used as (unconstrained ones become text). The
	// plan is for description only, not for running.
	InferParams bool
	ParamTypes  []functions.Type
	// Text is the statement's text; errors in its expressions then carry
	// their position in it (errs.Error.Pos).
	Text string
}

func unsupported(what string, args ...any) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "%s is not supported", fmt.Sprintf(what, args...))
}

func undefinedColumn(name string) error {
	return errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q does not exist", name)
}

// PlanSelect plans a SELECT statement.
func (p *Planner) PlanSelect(s *pg.SelectStmt) (Node, error) {
	b := &binder{p: p}
	return b.selectStmt(s, nil)
}

// scopeCol is a column visible to expressions.
type scopeCol struct {
	name  string
	table string // alias or table name ("" for derived)
	// schema is the relation's schema when it is referenced by its own
	// name (no alias): schema.table.column references match it
	schema string
	t      functions.Type
	// hidden columns answer only qualified references and are left out
	// of *: the inputs' copies of JOIN ... USING columns
	hidden bool
	pg     string // PostgreSQL type to announce (Column.PGType)
}

type scope struct {
	cols []scopeCol
	used []bool
}

func (s *scope) resolve(table, name string) (int, error) {
	return s.resolveIn("", table, name)
}

// resolveIn resolves a column reference qualified by schema and table as
// well (schema "" for one- and two-part references).
func (s *scope) resolveIn(schema, table, name string) (int, error) {
	found := -1
	for i, c := range s.cols {
		if c.name == name && (table == "" && !c.hidden || table != "" && c.table == table) && (schema == "" || c.schema == schema) {
			if found >= 0 {
				return 0, errs.New(errs.ErrInvalidInput, "42702", "column reference %q is ambiguous", name)
			}
			found = i
		}
	}
	if found < 0 {
		if schema != "" {
			return 0, undefinedColumn(schema + "." + table + "." + name)
		}
		if table != "" {
			return 0, undefinedColumn(table + "." + name)
		}
		return 0, undefinedColumn(name)
	}
	s.used[found] = true
	return found, nil
}

type cte struct {
	node Node
}

type binder struct {
	p     *Planner
	depth int // view nesting
	// outer is set while binding a subquery: the enclosing query's scope
	outer *outerCtx
}

// outerCtx resolves a subquery's references to the enclosing query.
type outerCtx struct {
	sc     *scope
	refs   []int       // enclosing-scope columns referenced, in first-use order
	values map[int]any // when replanning: their values by enclosing-scope index
}

// env carries CTEs visible to a query (innermost last).
type env struct {
	ctes   map[string]*cte
	parent *env
}

func (e *env) lookup(name string) *cte {
	for ; e != nil; e = e.parent {
		if c, ok := e.ctes[name]; ok {
			return c
		}
	}
	return nil
}

func (b *binder) selectStmt(s *pg.SelectStmt, outer *env) (Node, error) {
	if s.GetOp() != pg.SetOperation_SETOP_NONE {
		return b.setOp(s, outer)
	}
	if len(s.GetValuesLists()) > 0 {
		return b.values(s)
	}
	if s.GetIntoClause() != nil {
		return nil, unsupported("SELECT INTO")
	}
	if len(s.GetLockingClause()) > 0 {
		return nil, unsupported("FOR UPDATE/SHARE")
	}
	e := outer
	if w := s.GetWithClause(); w != nil {
		if w.GetRecursive() {
			return nil, unsupported("WITH RECURSIVE")
		}
		e = &env{ctes: map[string]*cte{}, parent: outer}
		for _, n := range w.GetCtes() {
			c := n.GetCommonTableExpr()
			if len(c.GetAliascolnames()) > 0 {
				return nil, unsupported("column aliases on a WITH query")
			}
			sub := c.GetCtequery().GetSelectStmt()
			if sub == nil {
				return nil, unsupported("data-modifying statements in WITH")
			}
			node, err := b.selectStmt(sub, e)
			if err != nil {
				return nil, err
			}
			e.ctes[c.GetCtename()] = &cte{node: node}
		}
	}
	input, sc, scan, err := b.from(s.GetFromClause(), e)
	if err != nil {
		return nil, err
	}
	q := &query{b: b, sc: sc, env: e, windows: map[string]*pg.WindowDef{}}
	for _, w := range s.GetWindowClause() {
		wd := w.GetWindowDef()
		q.windows[wd.GetName()] = wd
	}
	// WHERE
	var where Expr
	if w := s.GetWhereClause(); w != nil {
		where, err = q.expr(w, ctxWhere)
		if err != nil {
			return nil, err
		}
		if where, err = coerceTo(where, functions.TBool, "argument of WHERE"); err != nil {
			return nil, err
		}
	}
	// targets
	var targets []Expr
	var names []string
	for _, t := range s.GetTargetList() {
		rt := t.GetResTarget()
		if cr := rt.GetVal().GetColumnRef(); cr != nil && isStar(cr) {
			table := ""
			if f := cr.GetFields(); len(f) == 2 {
				table = f[0].GetString_().GetSval()
			}
			matched := false
			for i, c := range sc.cols {
				if (table == "" || c.table == table) && !(c.hidden && table == "") {
					sc.used[i] = true
					targets = append(targets, &Col{Idx: i, Name: c.name, T: c.t})
					names = append(names, c.name)
					matched = true
				}
			}
			if !matched && table != "" {
				return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "missing FROM-clause entry for table %q", table)
			}
			continue
		}
		ex, err := q.expr(rt.GetVal(), ctxSelect)
		if err != nil {
			return nil, err
		}
		targets = append(targets, ex)
		name := rt.GetName()
		if name == "" {
			name = defaultName(rt.GetVal())
		}
		names = append(names, name)
	}
	pgTypes := make([]string, len(targets))
	for i, t := range targets {
		pgTypes[i] = q.pgTypeOf(t)
	}
	// GROUP BY
	var groups []Expr
	for _, g := range s.GetGroupClause() {
		ex, err := q.groupItem(g, targets, names)
		if err != nil {
			return nil, err
		}
		groups = append(groups, ex)
	}
	var having Expr
	if h := s.GetHavingClause(); h != nil {
		if having, err = q.expr(h, ctxSelect); err != nil {
			return nil, err
		}
		if having, err = coerceTo(having, functions.TBool, "argument of HAVING"); err != nil {
			return nil, err
		}
	}
	// ORDER BY and DISTINCT ON items are bound now (they may add hidden
	// columns) and resolved against the outputs later.
	type sortItem struct {
		out  int // output column, or -1
		ex   Expr
		desc bool
		nf   bool
	}
	var sorts []sortItem
	for _, n := range s.GetSortClause() {
		sb := n.GetSortBy()
		if sb.GetUseOp() != nil {
			return nil, unsupported("ORDER BY ... USING")
		}
		it := sortItem{out: -1}
		it.desc, it.nf = sortOrder(sb)
		if it.out, it.ex, err = q.outputRef(sb.GetNode(), targets, names, "ORDER BY"); err != nil {
			return nil, err
		}
		sorts = append(sorts, it)
	}
	distinct := s.GetDistinctClause()
	distinctAll := len(distinct) == 1 && distinct[0].GetNode() == nil
	var distinctOn []sortItem
	if len(distinct) > 0 && !distinctAll {
		for _, n := range distinct {
			it := sortItem{out: -1}
			if it.out, it.ex, err = q.outputRef(n, targets, names, "DISTINCT ON"); err != nil {
				return nil, err
			}
			distinctOn = append(distinctOn, it)
		}
	}

	sortExprs := make([]Expr, 0, len(sorts))
	for _, it := range sorts {
		sortExprs = append(sortExprs, it.ex)
	}
	gapfill, err := analyzeGapfill(groups, targets, sortExprs, []Expr{where, having})
	if err != nil {
		return nil, err
	}

	// Build the plan bottom-up.
	node := input
	if where != nil {
		if scan != nil {
			where = pushDown(scan, where, sc)
		} else {
			narrowSubquery(input, where)
			where = pushIntoJoin(input, where)
		}
		if where != nil {
			node = &Filter{Input: node, Pred: where}
		}
	}
	aggregated := len(groups) > 0 || len(q.aggs) > 0
	if aggregated {
		agg := &Aggregate{Input: node, Groups: groups, Aggs: q.aggs}
		for i, g := range groups {
			agg.Out = append(agg.Out, Column{Name: fmt.Sprintf("group%d", i), T: g.Type()})
		}
		for i, a := range q.aggs {
			agg.Out = append(agg.Out, Column{Name: fmt.Sprintf("%s%d", a.Name, i), T: a.T})
		}
		node = agg
		lift := func(e Expr, what string) (Expr, error) { return liftAggregate(e, groups, len(groups), what) }
		for i := range targets {
			if targets[i], err = lift(targets[i], "SELECT"); err != nil {
				return nil, err
			}
		}
		if having != nil {
			if having, err = lift(having, "HAVING"); err != nil {
				return nil, err
			}
			node = &Filter{Input: node, Pred: having}
		}
		if gapfill != nil {
			if node, err = q.planGapfill(gapfill, node, len(groups), targets, scan); err != nil {
				return nil, err
			}
		}
		for i := range sorts {
			if sorts[i].ex != nil {
				if sorts[i].ex, err = lift(sorts[i].ex, "ORDER BY"); err != nil {
					return nil, err
				}
			}
		}
		for i := range distinctOn {
			if distinctOn[i].ex != nil {
				if distinctOn[i].ex, err = lift(distinctOn[i].ex, "DISTINCT ON"); err != nil {
					return nil, err
				}
			}
		}
	} else if having != nil {
		return nil, unsupported("HAVING without GROUP BY or aggregates")
	}
	if len(q.wins) > 0 {
		w := &Window{Input: node, Out: append([]Column(nil), node.Columns()...)}
		base := len(w.Out)
		for _, c := range q.wins {
			if aggregated {
				lift := func(e Expr) (Expr, error) { return liftAggregate(e, groups, len(groups), "window function") }
				for i := range c.Args {
					if c.Args[i], err = lift(c.Args[i]); err != nil {
						return nil, err
					}
				}
				for i := range c.Partition {
					if c.Partition[i], err = lift(c.Partition[i]); err != nil {
						return nil, err
					}
				}
				for i := range c.Order {
					if c.Order[i], err = lift(c.Order[i]); err != nil {
						return nil, err
					}
				}
			}
			w.Calls = append(w.Calls, c)
			w.Out = append(w.Out, Column{Name: c.Name, T: c.T})
		}
		node = w
		toCol := func(e Expr) Expr {
			return rewrite(e, func(x Expr) Expr {
				if r, ok := x.(*winRef); ok {
					return &Col{Idx: base + r.idx, Name: r.String(), T: r.t}
				}
				return nil
			})
		}
		for i := range targets {
			targets[i] = toCol(targets[i])
		}
		for i := range sorts {
			if sorts[i].ex != nil {
				sorts[i].ex = toCol(sorts[i].ex)
			}
		}
		for i := range distinctOn {
			if distinctOn[i].ex != nil {
				distinctOn[i].ex = toCol(distinctOn[i].ex)
			}
		}
	}
	// projection with hidden columns for ORDER BY / DISTINCT ON items that
	// are not outputs
	exprs := append([]Expr(nil), targets...)
	out := make([]Column, len(targets))
	for i, t := range targets {
		out[i] = Column{Name: names[i], T: t.Type(), PGType: pgTypes[i]}
	}
	visible := len(exprs)
	place := func(it *sortItem) error {
		if it.out >= 0 {
			return nil
		}
		for i, e := range exprs {
			if e.String() == it.ex.String() {
				it.out = i
				return nil
			}
		}
		if distinctAll {
			return errs.New(errs.ErrInvalidInput, "42P10", "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
		}
		it.out = len(exprs)
		exprs = append(exprs, it.ex)
		out = append(out, Column{Name: "?hidden?", T: it.ex.Type()})
		return nil
	}
	for i := range sorts {
		if err := place(&sorts[i]); err != nil {
			return nil, err
		}
	}
	for i := range distinctOn {
		if err := place(&distinctOn[i]); err != nil {
			return nil, err
		}
	}
	node = &Project{Input: node, Exprs: exprs, Out: out}
	if scan != nil {
		pruneScan(scan, sc, node)
	}
	if distinctAll {
		node = &Distinct{Input: node}
	}
	var keys []SortKey
	for _, it := range sorts {
		keys = append(keys, SortKey{Col: it.out, Desc: it.desc, NullsFirst: it.nf})
	}
	if len(distinctOn) > 0 {
		// DISTINCT ON keeps the first row of each key in ORDER BY order;
		// PostgreSQL requires the keys to lead the ORDER BY.
		on := make([]int, len(distinctOn))
		for i, it := range distinctOn {
			on[i] = it.out
		}
		if len(keys) == 0 {
			for _, c := range on {
				keys = append(keys, SortKey{Col: c})
			}
		} else {
			for i := range on {
				if i >= len(keys) || !containsCol(on, keys[i].Col) {
					return nil, errs.New(errs.ErrInvalidInput, "42P10", "SELECT DISTINCT ON expressions must match initial ORDER BY expressions")
				}
			}
		}
		node = &Sort{Input: node, Keys: keys}
		node = &Distinct{Input: node, On: on}
	} else if len(keys) > 0 {
		node = &Sort{Input: node, Keys: keys}
	}
	if node, err = q.limit(s, node); err != nil {
		return nil, err
	}
	if len(exprs) > visible {
		drop := make([]Expr, visible)
		for i := range drop {
			drop[i] = &Col{Idx: i, Name: out[i].Name, T: out[i].T}
		}
		node = &Project{Input: node, Exprs: drop, Out: out[:visible]}
	}
	return useLastPoint(node), nil
}

// sortOrder is an ORDER BY item's direction and NULL placement
// (PostgreSQL: NULLs last ascending, first descending, unless stated).
func sortOrder(sb *pg.SortBy) (desc, nullsFirst bool) {
	desc = sb.GetSortbyDir() == pg.SortByDir_SORTBY_DESC
	nullsFirst = desc
	switch sb.GetSortbyNulls() {
	case pg.SortByNulls_SORTBY_NULLS_FIRST:
		nullsFirst = true
	case pg.SortByNulls_SORTBY_NULLS_LAST:
		nullsFirst = false
	}
	return desc, nullsFirst
}

func containsCol(cols []int, c int) bool {
	for _, x := range cols {
		if x == c {
			return true
		}
	}
	return false
}

func isStar(cr *pg.ColumnRef) bool {
	f := cr.GetFields()
	return len(f) > 0 && f[len(f)-1].GetAStar() != nil
}

// from binds the FROM clause: nothing, one table, one CTE or one subquery.
func (b *binder) from(items []*pg.Node, e *env) (Node, *scope, *Scan, error) {
	sc := &scope{}
	if len(items) == 0 {
		return &Values{Rows: [][]Expr{{}}}, sc, nil, nil
	}
	if len(items) > 1 {
		// FROM a, b, ...: cross joins; WHERE supplies the conditions
		node, sc, _, err := b.from(items[:1], e)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, it := range items[1:] {
			rn, rsc, _, err := b.from([]*pg.Node{it}, e)
			if err != nil {
				return nil, nil, nil, err
			}
			node, sc = crossJoin(node, sc, rn, rsc)
		}
		return node, sc, nil, nil
	}
	it := items[0]
	switch {
	case it.GetRangeVar() != nil:
		rv := it.GetRangeVar()
		alias := rv.GetRelname()
		if a := rv.GetAlias(); a != nil {
			if len(a.GetColnames()) > 0 {
				return nil, nil, nil, unsupported("column aliases in FROM")
			}
			alias = a.GetAliasname()
		}
		if rv.GetSchemaname() == "" {
			if c := e.lookup(rv.GetRelname()); c != nil {
				for _, col := range c.node.Columns() {
					sc.cols = append(sc.cols, scopeCol{name: col.Name, table: alias, t: col.T, pg: col.PGType})
				}
				sc.used = make([]bool, len(sc.cols))
				return c.node, sc, nil, nil
			}
		}
		if scan, ok, err := b.systemRelation(rv); ok || err != nil {
			if err != nil {
				return nil, nil, nil, err
			}
			schema := ""
			if rv.GetAlias() == nil {
				schema, _, _ = strings.Cut(scan.Table, ".")
			}
			for _, c := range scan.Cols {
				sc.cols = append(sc.cols, scopeCol{name: c.Name, table: alias, schema: schema, t: c.T, pg: c.PGType})
			}
			sc.used = make([]bool, len(sc.cols))
			return scan, sc, scan, nil
		}
		schema := ""
		if rv.GetAlias() == nil {
			schema = "public" // user relations live in public
		}
		if q, ok := b.p.Cat.View(rv.GetRelname()); ok {
			node, err := b.view(rv.GetRelname(), q)
			if err != nil {
				return nil, nil, nil, err
			}
			for _, col := range node.Columns() {
				sc.cols = append(sc.cols, scopeCol{name: col.Name, table: alias, schema: schema, t: col.T, pg: col.PGType})
			}
			sc.used = make([]bool, len(sc.cols))
			if scan := plainScan(node); scan != nil {
				// the view only renames a scan's columns: read the scan
				// directly, so that this query's time bounds, tag
				// predicates and aggregates reach it too
				return scan, sc, scan, nil
			}
			return node, sc, nil, nil
		}
		cols, err := b.p.Cat.Table(rv.GetRelname())
		if err != nil {
			return nil, nil, nil, err
		}
		scan := &Scan{Table: rv.GetRelname(), Cols: cols, MinT: minTime, MaxT: maxTime}
		for _, c := range cols {
			sc.cols = append(sc.cols, scopeCol{name: c.Name, table: alias, schema: schema, t: c.T, pg: c.PGType})
		}
		sc.used = make([]bool, len(sc.cols))
		return scan, sc, scan, nil
	case it.GetRangeSubselect() != nil:
		rs := it.GetRangeSubselect()
		if rs.GetLateral() {
			return nil, nil, nil, unsupported("LATERAL")
		}
		node, err := b.selectStmt(rs.GetSubquery().GetSelectStmt(), e)
		if err != nil {
			return nil, nil, nil, err
		}
		alias := ""
		var colnames []*pg.Node
		if a := rs.GetAlias(); a != nil {
			alias, colnames = a.GetAliasname(), a.GetColnames()
		}
		if len(colnames) > len(node.Columns()) {
			return nil, nil, nil, errs.New(errs.ErrInvalidInput, "42P10", "table %q has %d columns available but %d columns specified", alias, len(node.Columns()), len(colnames))
		}
		for i, col := range node.Columns() {
			name := col.Name
			if i < len(colnames) {
				name = colnames[i].GetString_().GetSval()
			}
			sc.cols = append(sc.cols, scopeCol{name: name, table: alias, t: col.T, pg: col.PGType})
		}
		sc.used = make([]bool, len(sc.cols))
		return node, sc, nil, nil
	case it.GetJoinExpr() != nil:
		node, sc, err := b.join(it.GetJoinExpr(), e)
		return node, sc, nil, err
	case it.GetRangeFunction() != nil:
		if scan, name, ok := b.catalogSetFunction(it.GetRangeFunction()); ok {
			alias, colnames := name, []*pg.Node(nil)
			if a := it.GetRangeFunction().GetAlias(); a != nil {
				alias, colnames = a.GetAliasname(), a.GetColnames()
			}
			if len(colnames) > len(scan.Cols) {
				return nil, nil, nil, errs.New(errs.ErrInvalidInput, "42P10", "table %q has %d columns available but %d columns specified", alias, len(scan.Cols), len(colnames))
			}
			for i, c := range scan.Cols {
				cn := c.Name
				if i < len(colnames) {
					cn = colnames[i].GetString_().GetSval()
				}
				sc.cols = append(sc.cols, scopeCol{name: cn, table: alias, t: c.T, pg: c.PGType})
			}
			sc.used = make([]bool, len(sc.cols))
			return scan, sc, scan, nil
		}
		node, out, err := b.rangeFunction(it.GetRangeFunction(), e)
		if err != nil {
			return nil, nil, nil, err
		}
		rf := it.GetRangeFunction()
		name := out[0].Name
		alias := ""
		if a := rf.GetAlias(); a != nil {
			alias, name = a.GetAliasname(), a.GetAliasname()
			if cn := a.GetColnames(); len(cn) > 1 {
				return nil, nil, nil, errs.New(errs.ErrInvalidInput, "42601", "too many column aliases specified for function %s", out[0].Name)
			} else if len(cn) == 1 {
				name = cn[0].GetString_().GetSval()
			}
		}
		out[0].Name = name
		sc.cols = append(sc.cols, scopeCol{name: name, table: alias, t: out[0].T})
		sc.used = make([]bool, len(sc.cols))
		return node, sc, nil, nil
	}
	return nil, nil, nil, unsupported("this FROM item")
}

// maxSeriesRows bounds generate_series so that a typo cannot build
// billions of rows.
const maxSeriesRows = 100_000_000

// rangeFunction binds a function in FROM: generate_series(start, stop[,
// step]) over bigint or timestamptz, or unnest(array), with constant
// arguments (or values of an enclosing query). out is the node's column
// list, to be named by the caller.
func (b *binder) rangeFunction(rf *pg.RangeFunction, e *env) (Node, []Column, error) {
	if len(rf.GetFunctions()) == 1 {
		if fc := rf.GetFunctions()[0].GetList().GetItems()[0].GetFuncCall(); fc != nil {
			names := fc.GetFuncname()
			if strings.EqualFold(names[len(names)-1].GetString_().GetSval(), "unnest") {
				v, err := b.unnest(fc, e)
				if err != nil {
					return nil, nil, err
				}
				return v, v.Out, nil
			}
		}
	}
	if len(rf.GetFunctions()) == 1 && !rf.GetOrdinality() && !rf.GetLateral() {
		if fc := rf.GetFunctions()[0].GetList().GetItems()[0].GetFuncCall(); fc != nil {
			names := fc.GetFuncname()
			if fn := strings.ToLower(names[len(names)-1].GetString_().GetSval()); fn != "generate_series" && !setReturning[fn] {
				return b.scalarInFrom(fc, fn, e)
			}
		}
	}
	s, err := b.series(rf, e)
	if err != nil {
		return nil, nil, err
	}
	return s, s.Out, nil
}

// scalarInFrom is a scalar function in FROM: one row holding its value.
func (b *binder) scalarInFrom(fc *pg.FuncCall, name string, e *env) (Node, []Column, error) {
	q := &query{b: b, sc: &scope{}, env: e}
	x, err := q.expr(&pg.Node{Node: &pg.Node_FuncCall{FuncCall: fc}}, ctxWhere)
	if err != nil {
		return nil, nil, err
	}
	if x.Type() == functions.TUnknown {
		if x, err = castTo(x, functions.TText); err != nil {
			return nil, nil, err
		}
	}
	v := &Values{Out: []Column{{Name: name, T: x.Type()}}}
	if !hasOuterMarker(x) {
		if _, ok := x.(*Const); !ok {
			return nil, nil, unsupported("function %s in FROM with non-constant arguments", name)
		}
		v.Rows = [][]Expr{{x}}
	}
	return v, v.Out, nil
}

// unnest(array) in FROM: the elements as rows of text.
func (b *binder) unnest(fc *pg.FuncCall, e *env) (*Values, error) {
	out := &Values{Out: []Column{{Name: "unnest", T: functions.TText}}}
	if len(fc.GetArgs()) != 1 {
		return nil, unsupported("unnest with several arrays")
	}
	q := &query{b: b, sc: &scope{}, env: e}
	a, err := q.expr(fc.GetArgs()[0], ctxWhere)
	if err != nil {
		return nil, err
	}
	if a.Type() == functions.TUnknown {
		if a, err = castTo(a, functions.TText); err != nil {
			return nil, err
		}
	}
	k, ok := a.(*Const)
	if hasOuterMarker(a) {
		return out, nil // typed placeholder; replanned with the outer values
	}
	if !ok || isParam(k) || a.Type() != functions.TText {
		return nil, unsupported("unnest of a non-constant array")
	}
	if k.V == nil {
		return out, nil
	}
	elems, err := functions.ParseArrayText(k.V.(string))
	if err != nil {
		return nil, err
	}
	for _, el := range elems {
		var v any
		if el != nil {
			v = *el
		}
		out.Rows = append(out.Rows, []Expr{&Const{V: v, T: functions.TText}})
	}
	return out, nil
}

// series binds generate_series in FROM.
func (b *binder) series(rf *pg.RangeFunction, e *env) (*Series, error) {
	if rf.GetLateral() || rf.GetOrdinality() || rf.GetIsRowsfrom() || len(rf.GetFunctions()) != 1 {
		return nil, unsupported("this function in FROM (LATERAL, WITH ORDINALITY, ROWS FROM)")
	}
	items := rf.GetFunctions()[0].GetList().GetItems()
	fc := items[0].GetFuncCall()
	if fc == nil {
		return nil, unsupported("this function in FROM")
	}
	names := fc.GetFuncname()
	name := strings.ToLower(names[len(names)-1].GetString_().GetSval())
	if name != "generate_series" {
		return nil, unsupported("function %s in FROM", name)
	}
	q := &query{b: b, sc: &scope{}, env: e}
	var args []Expr
	for _, a := range fc.GetArgs() {
		x, err := q.expr(a, ctxWhere)
		if err != nil {
			return nil, err
		}
		args = append(args, x)
	}
	if len(args) < 2 || len(args) > 3 {
		return nil, errs.New(errs.ErrNotFound, "42883", "function generate_series with %d arguments does not exist", len(args))
	}
	t := functions.TInt
	if args[0].Type() == functions.TTimestamp || args[1].Type() == functions.TTimestamp ||
		args[0].Type() == functions.TDate || args[1].Type() == functions.TDate {
		t = functions.TTimestamp
	}
	var vals []any
	for i, a := range args {
		want := t
		if i == 2 && t == functions.TTimestamp {
			want = functions.TInterval
		}
		if a.Type() == functions.TUnknown || a.Type() == functions.TDate && want == functions.TTimestamp {
			var err error
			if a, err = castTo(a, want); err != nil {
				return nil, err
			}
		}
		k, ok := a.(*Const)
		if hasOuterMarker(a) {
			// arguments from an enclosing query: this plan only types the
			// subquery; it is replanned with the outer values, which are
			// constants then
			return &Series{Out: []Column{{Name: "generate_series", T: t}}, Start: 1, Stop: 0, StepInt: 1}, nil
		}
		if !ok || isParam(k) {
			return nil, unsupported("generate_series with non-constant arguments")
		}
		if a.Type() != want {
			return nil, errs.New(errs.ErrNotFound, "42883", "function generate_series(%s) does not exist", argTypes(args))
		}
		vals = append(vals, k.V)
	}
	n := &Series{Out: []Column{{Name: "generate_series", T: t}}}
	for _, v := range vals[:2] {
		if v == nil {
			n.Start, n.Stop, n.StepInt = 1, 0, 1 // NULL argument: no rows
			return n, nil
		}
	}
	n.Start, n.Stop = vals[0].(int64), vals[1].(int64)
	if t == functions.TInt {
		n.StepInt = 1
		if len(vals) == 3 {
			if vals[2] == nil {
				n.Start, n.Stop = 1, 0
				return n, nil
			}
			n.StepInt = vals[2].(int64)
		}
		if n.StepInt == 0 {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "step size cannot equal zero")
		}
		if rows := (n.Stop-n.Start)/n.StepInt + 1; rows > maxSeriesRows {
			return nil, errs.New(errs.ErrInvalidInput, "54000", "generate_series would produce %d rows; ugnos allows %d", rows, maxSeriesRows)
		}
		return n, nil
	}
	if len(vals) != 3 {
		return nil, errs.New(errs.ErrNotFound, "42883", "function generate_series(timestamp with time zone, timestamp with time zone) does not exist")
	}
	if vals[2] == nil {
		n.Start, n.Stop, n.StepInt = 1, 0, 1
		return n, nil
	}
	n.StepIv = vals[2].(functions.Interval)
	if d, ok := n.StepIv.Fixed(); ok {
		if d == 0 {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "step size cannot equal zero")
		}
		if rows := (n.Stop-n.Start)/d + 1; rows > maxSeriesRows {
			return nil, errs.New(errs.ErrInvalidInput, "54000", "generate_series would produce %d rows; ugnos allows %d", rows, maxSeriesRows)
		}
	}
	return n, nil
}

// isOuterMarker reports whether k stands for a column of an enclosing
// query while a correlated subquery is typed (before it is replanned with
// the values).
func isOuterMarker(k *Const) bool {
	_, ok := k.V.(outerMarker)
	return ok
}

// hasOuterMarker reports whether e reads a column of an enclosing query
// (see isOuterMarker).
func hasOuterMarker(e Expr) bool {
	found := false
	visit(e, func(x Expr) {
		if k, ok := x.(*Const); ok && isOuterMarker(k) {
			found = true
		}
	})
	return found
}

func argTypes(args []Expr) string {
	ts := make([]string, len(args))
	for i, a := range args {
		ts[i] = a.Type().Name()
	}
	return strings.Join(ts, ", ")
}

// defaultName is PostgreSQL's column name for an unnamed target
// (FigureColname).
func defaultName(n *pg.Node) string {
	name, strength := figureColname(n)
	if strength == 0 {
		return "?column?"
	}
	return name
}

// figureColname follows PostgreSQL's FigureColnameInternal: strength 2 is
// a real name, 1 a fallback (a type name, "case"), 0 none.
func figureColname(n *pg.Node) (string, int) {
	switch {
	case n.GetColumnRef() != nil:
		f := n.GetColumnRef().GetFields()
		if s := f[len(f)-1].GetString_(); s != nil {
			return s.GetSval(), 2
		}
	case n.GetFuncCall() != nil:
		f := n.GetFuncCall().GetFuncname()
		return f[len(f)-1].GetString_().GetSval(), 2
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		if name, st := figureColname(tc.GetArg()); st > 1 {
			return name, st
		}
		names := tc.GetTypeName().GetNames()
		return pgTypeName(names[len(names)-1].GetString_().GetSval()), 1
	case n.GetCaseExpr() != nil:
		if d := n.GetCaseExpr().GetDefresult(); d != nil {
			if name, st := figureColname(d); st > 1 {
				return name, st
			}
		}
		return "case", 1
	case n.GetCoalesceExpr() != nil:
		return "coalesce", 2
	case n.GetMinMaxExpr() != nil:
		if n.GetMinMaxExpr().GetOp() == pg.MinMaxOp_IS_GREATEST {
			return "greatest", 2
		}
		return "least", 2
	case n.GetAExpr() != nil && n.GetAExpr().GetKind() == pg.A_Expr_Kind_AEXPR_NULLIF:
		return "nullif", 2
	case n.GetSubLink() != nil:
		sl := n.GetSubLink()
		switch sl.GetSubLinkType() {
		case pg.SubLinkType_EXISTS_SUBLINK:
			return "exists", 2
		case pg.SubLinkType_EXPR_SUBLINK:
			if sel := sl.GetSubselect().GetSelectStmt(); sel != nil && len(sel.GetTargetList()) > 0 {
				rt := sel.GetTargetList()[0].GetResTarget()
				if rt.GetName() != "" {
					return rt.GetName(), 2
				}
				return figureColname(rt.GetVal())
			}
		}
	case n.GetSqlvalueFunction() != nil:
		switch n.GetSqlvalueFunction().GetOp() {
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP_N:
			return "current_timestamp", 2
		case pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP, pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N:
			return "localtimestamp", 2
		}
	}
	return "?column?", 0
}

func pgTypeName(s string) string {
	switch s {
	case "int8", "bigint":
		return "int8"
	case "int4", "integer", "int":
		return "int4"
	case "float8":
		return "float8"
	case "bool", "boolean":
		return "bool"
	}
	return s
}

// ConstExpr binds an expression that must be constant (INSERT values,
// defaults): parameters, literals, casts and functions of them.
func (p *Planner) ConstExpr(n *pg.Node) (Expr, error) {
	b := &binder{p: p}
	q := &query{b: b, sc: &scope{}}
	e, err := q.expr(n, ctxWhere)
	if err != nil {
		return nil, err
	}
	if _, ok := e.(*Const); !ok {
		return nil, unsupported("non-constant expressions in VALUES")
	}
	return e, nil
}

// Coerce converts a bound constant to t as an assignment would
// (INSERT): unknown literals are parsed, numbers converted.
func Coerce(e Expr, t functions.Type) (Expr, error) {
	if e.Type() == t || e.Type() == functions.TUnknown {
		return castTo(e, t)
	}
	if e.Type().Numeric() && t.Numeric() || t == functions.TText || e.Type() == functions.TDate && t == functions.TTimestamp {
		return castTo(e, t)
	}
	return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "value of type %s cannot be assigned to a column of type %s", e.Type().Name(), t.Name())
}

// DeleteSpec is what a DELETE removes: a time range and tag predicates.
type DeleteSpec struct {
	MinT, MaxT int64
	Tags       []TagFilter
	Empty      bool // the condition matches nothing
}

// PlanDelete turns a DELETE's WHERE into a time range and tag predicates;
// conditions on field values (or anything else storage cannot apply
// exactly) are refused with 0A000.
func (p *Planner) PlanDelete(table string, where *pg.Node) (DeleteSpec, error) {
	cols, err := p.Cat.Table(table)
	if err != nil {
		return DeleteSpec{}, err
	}
	scan := &Scan{Table: table, Cols: cols, MinT: minTime, MaxT: maxTime}
	if where != nil {
		sc := &scope{}
		for _, c := range cols {
			sc.cols = append(sc.cols, scopeCol{name: c.Name, table: table, t: c.T})
		}
		sc.used = make([]bool, len(sc.cols))
		q := &query{b: &binder{p: p}, sc: sc}
		e, err := q.expr(where, ctxWhere)
		if err != nil {
			return DeleteSpec{}, err
		}
		if e, err = coerceTo(e, functions.TBool, "argument of WHERE"); err != nil {
			return DeleteSpec{}, err
		}
		if rest := pushDown(scan, e, sc); rest != nil && !p.InferParams {
			return DeleteSpec{}, unsupported("DELETE with a condition other than time ranges and tag comparisons (%s)", rest)
		}
	}
	return DeleteSpec{MinT: scan.MinT, MaxT: scan.MaxT, Tags: scan.Tags, Empty: scan.Empty}, nil
}

// setOp plans UNION / INTERSECT / EXCEPT and the ORDER BY and LIMIT that
// apply to the combined result.
func (b *binder) setOp(s *pg.SelectStmt, outer *env) (Node, error) {
	e := outer
	if w := s.GetWithClause(); w != nil {
		return nil, unsupported("WITH on a set operation")
	}
	left, err := b.selectStmt(s.GetLarg(), e)
	if err != nil {
		return nil, err
	}
	right, err := b.selectStmt(s.GetRarg(), e)
	if err != nil {
		return nil, err
	}
	lc, rc := left.Columns(), right.Columns()
	op := strings.ToLower(strings.TrimPrefix(s.GetOp().String(), "SETOP_"))
	if len(lc) != len(rc) {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "each %s query must have the same number of columns", strings.ToUpper(op))
	}
	out := make([]Column, len(lc))
	lx, rx := make([]Expr, len(lc)), make([]Expr, len(lc))
	for i := range lc {
		t, ok := functions.CommonType([]functions.Type{lc[i].T, rc[i].T})
		if !ok {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "%s types %s and %s cannot be matched", strings.ToUpper(op), lc[i].T.Name(), rc[i].T.Name())
		}
		out[i] = Column{Name: lc[i].Name, T: t}
		if lx[i], err = coerceTo(&Col{Idx: i, Name: lc[i].Name, T: lc[i].T}, t, strings.ToUpper(op)); err != nil {
			return nil, err
		}
		if rx[i], err = coerceTo(&Col{Idx: i, Name: rc[i].Name, T: rc[i].T}, t, strings.ToUpper(op)); err != nil {
			return nil, err
		}
	}
	var node Node = &SetOp{Op: op, All: s.GetAll(),
		Left:  &Project{Input: left, Exprs: lx, Out: out},
		Right: &Project{Input: right, Exprs: rx, Out: out}, Out: out}
	var keys []SortKey
	for _, n := range s.GetSortClause() {
		sb := n.GetSortBy()
		col := -1
		if c := sb.GetNode().GetAConst(); c != nil && c.GetIval() != nil {
			col = int(c.GetIval().GetIval()) - 1
		} else if cr := sb.GetNode().GetColumnRef(); cr != nil && len(cr.GetFields()) == 1 {
			name := cr.GetFields()[0].GetString_().GetSval()
			for i, c := range out {
				if c.Name == name {
					col = i
					break
				}
			}
		}
		if col < 0 || col >= len(out) {
			return nil, unsupported("ORDER BY on a set operation other than by output column name or position")
		}
		k := SortKey{Col: col}
		k.Desc, k.NullsFirst = sortOrder(sb)
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		node = &Sort{Input: node, Keys: keys}
	}
	q := &query{b: b, sc: &scope{}}
	return q.limit(s, node)
}

// view plans a view's stored query (views may use views, up to a depth).
func (b *binder) view(name, q string) (Node, error) {
	b.depth++
	defer func() { b.depth-- }()
	if b.depth > 16 {
		return nil, errs.New(errs.ErrInvalidInput, "54001", "views nested too deeply (at %q)", name)
	}
	stmts, err := sql.Parse(q)
	if err != nil || len(stmts) != 1 || stmts[0].Node.GetSelectStmt() == nil {
		return nil, errs.New(errs.ErrCorrupt, errs.CodeInternal, "view %q has an invalid stored query", name)
	}
	return b.selectStmt(stmts[0].Node.GetSelectStmt(), nil)
}

// limit adds the LIMIT / OFFSET of s above node, if any.
func (q *query) limit(s *pg.SelectStmt, node Node) (Node, error) {
	lc, lo := s.GetLimitCount(), s.GetLimitOffset()
	if lc == nil && lo == nil {
		return node, nil
	}
	lim := &Limit{Input: node, Count: -1}
	var err error
	if lc != nil {
		if lim.Count, err = q.limitValue(lc, "LIMIT", true); err != nil {
			return nil, err
		}
	}
	if lo != nil {
		if lim.Offset, err = q.limitValue(lo, "OFFSET", false); err != nil {
			return nil, err
		}
	}
	return lim, nil
}

// values plans VALUES (...), (...): constant rows, each column of the
// common type of its values (unknown literals are text), named column1, ...
func (b *binder) values(s *pg.SelectStmt) (Node, error) {
	q := &query{b: b, sc: &scope{}}
	var rows [][]Expr
	for _, l := range s.GetValuesLists() {
		var row []Expr
		for _, it := range l.GetList().GetItems() {
			e, err := q.expr(it, ctxWhere)
			if err != nil {
				return nil, err
			}
			if _, ok := e.(*Const); !ok {
				return nil, unsupported("non-constant expressions in VALUES")
			}
			row = append(row, e)
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "VALUES lists must all be the same length")
		}
		rows = append(rows, row)
	}
	n := &Values{}
	for c := range rows[0] {
		ts := make([]functions.Type, len(rows))
		for r := range rows {
			ts[r] = rows[r][c].Type()
		}
		t, ok := functions.CommonType(ts)
		if !ok {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "VALUES types in column %d cannot be matched", c+1)
		}
		for r := range rows {
			e, err := coerceTo(rows[r][c], t, "VALUES")
			if err != nil {
				return nil, err
			}
			rows[r][c] = e
		}
		n.Out = append(n.Out, Column{Name: fmt.Sprintf("column%d", c+1), T: t})
	}
	n.Rows = rows
	var node Node = n
	if len(s.GetSortClause()) > 0 {
		return nil, unsupported("ORDER BY directly on VALUES (use a subquery)")
	}
	return q.limit(s, node)
}
