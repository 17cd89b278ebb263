package planner

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// SystemCatalog is implemented by catalogs that also emulate PostgreSQL's
// system relations (pg_catalog, information_schema). The planner reads
// them as Scans of the table "schema.name" whose columns are all fields.
type SystemCatalog interface {
	// System returns a system relation's columns; schema is "pg_catalog",
	// "information_schema" or "ugnos" (ugnos's own, always qualified).
	System(schema, name string) ([]ScanColumn, bool)
	// RelationOID returns the OID of a relation by schema ("": the search
	// path) and name, as 'name'::regclass does.
	RelationOID(schema, name string) (int64, bool)
}

// systemRelation resolves a FROM item against the system schemas: a
// qualified pg_catalog or information_schema name, or an unqualified name
// found in pg_catalog (implicitly first on the search path). ok is false
// when the item names a user relation (unqualified or public).
func (b *binder) systemRelation(rv *pg.RangeVar) (*Scan, bool, error) {
	schema, name := rv.GetSchemaname(), rv.GetRelname()
	if rv.GetCatalogname() != "" {
		return nil, false, unsupported("cross-database references (%s.%s.%s)", rv.GetCatalogname(), schema, name)
	}
	if schema == "public" {
		return nil, false, nil
	}
	sys, _ := b.p.Cat.(SystemCatalog)
	try := func(schema string) *Scan {
		if sys == nil {
			return nil
		}
		cols, ok := sys.System(schema, name)
		if !ok {
			return nil
		}
		return &Scan{Table: schema + "." + name, Cols: cols, MinT: minTime, MaxT: maxTime}
	}
	switch schema {
	case "":
		if s := try("pg_catalog"); s != nil {
			return s, true, nil
		}
		return nil, false, nil
	case "pg_catalog", "information_schema", "ugnos":
		if s := try(schema); s != nil {
			return s, true, nil
		}
	}
	return nil, true, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
}

// catalogSetFunction binds a set-returning system function without
// arguments in FROM (pg_get_keywords()) as a Scan of the system relation
// "pg_catalog.name()"; ok is false for any other function.
func (b *binder) catalogSetFunction(rf *pg.RangeFunction) (scan *Scan, name string, ok bool) {
	if len(rf.GetFunctions()) != 1 || rf.GetOrdinality() {
		return nil, "", false
	}
	fc := rf.GetFunctions()[0].GetList().GetItems()[0].GetFuncCall()
	if fc == nil || len(fc.GetArgs()) > 0 || fc.GetAggStar() {
		return nil, "", false
	}
	names := fc.GetFuncname()
	if len(names) > 2 || len(names) == 2 && names[0].GetString_().GetSval() != "pg_catalog" {
		return nil, "", false
	}
	sys, _ := b.p.Cat.(SystemCatalog)
	if sys == nil {
		return nil, "", false
	}
	name = names[len(names)-1].GetString_().GetSval()
	cols, ok := sys.System("pg_catalog", name+"()")
	if !ok {
		return nil, "", false
	}
	return &Scan{Table: "pg_catalog." + name + "()", Cols: cols, MinT: minTime, MaxT: maxTime}, name, true
}

// pgTypeOf is the PostgreSQL type an output expression is announced as
// (Column.PGType), "" when its ugnos type says it.
func (q *query) pgTypeOf(e Expr) string {
	switch x := e.(type) {
	case *Col:
		if x.Idx < len(q.sc.cols) && q.sc.cols[x.Idx].name == x.Name {
			return q.sc.cols[x.Idx].pg
		}
	case *Call:
		switch x.Name {
		case "regclassout":
			return "regclass"
		case "regtypeout":
			return "regtype"
		case "regprocout":
			return "regproc"
		case "regnamespaceout":
			return "regnamespace"
		case "regroleout":
			return "regrole"
		case "current_schemas":
			return "_name"
		case "current_user", "session_user", "current_database", "current_schema", "pg_get_userbyid", "pg_encoding_to_char":
			return "name"
		case "pg_backend_pid":
			return "int4"
		case "ugnos_array":
			if c, ok := x.Args[0].(*Const); ok {
				if s, ok := c.V.(string); ok {
					return "_" + s
				}
			}
		}
	}
	return ""
}

// isArray reports whether an expression is an array (in ugnos: text in
// PostgreSQL's array form, typed by its PostgreSQL type).
func (q *query) isArray(e Expr) bool {
	t := q.pgTypeOf(e)
	return strings.HasPrefix(t, "_") || t == "int2vector" || t == "oidvector" || t == "anyarray"
}

// regTypes are the OID alias types: casting text to them looks the name up
// (X+"in"), casting an OID to them gives the name (X+"out").
var regTypes = map[string]bool{"regclass": true, "regtype": true, "regproc": true, "regprocedure": true, "regnamespace": true, "regrole": true}

// catalogCast binds the casts the catalogs need: to the OID alias types,
// to oid and to array types. ok is false for other casts.
func (q *query) catalogCast(tc *pg.TypeCast, ctx exprCtx) (Expr, bool, error) {
	names := tc.GetTypeName().GetNames()
	tname := strings.ToLower(names[len(names)-1].GetString_().GetSval())
	array := len(tc.GetTypeName().GetArrayBounds()) > 0
	if !regTypes[tname] && tname != "oid" && tname != "xid" && tname != "cid" && !array {
		return nil, false, nil
	}
	e, err := q.expr(tc.GetArg(), ctx)
	if err != nil {
		return nil, true, err
	}
	if array {
		if e.Type() == functions.TUnknown || e.Type() == functions.TText {
			e, err = castTo(e, functions.TText)
			return e, true, err
		}
		return nil, true, unsupported("casts of %s to array types", e.Type().Name())
	}
	if tname == "regprocedure" {
		tname = "regproc"
	}
	if c, ok := e.(*Call); ok && strings.HasPrefix(c.Name, "reg") && strings.HasSuffix(c.Name, "out") {
		// x::regclass::oid, or x::regclass::regclass
		if !regTypes[tname] {
			return c.Args[0], true, nil
		}
		e = c.Args[0]
	}
	switch {
	case !regTypes[tname]: // oid, xid, cid
		e, err = castTo(e, functions.TInt)
		return e, true, err
	case e.Type() == functions.TUnknown || e.Type() == functions.TText:
		if e, err = castTo(e, functions.TText); err != nil {
			return nil, true, err
		}
		if tname == "regproc" {
			// regproc values are function names in the catalogs
			e, err = q.call("ugnos_regproc_name", []Expr{e})
			return e, true, err
		}
		e, err = q.call(tname+"in", []Expr{e})
		return e, true, err
	case e.Type() == functions.TInt:
		e, err = q.call(tname+"out", []Expr{e})
		return e, true, err
	}
	return nil, true, errs.New(errs.ErrInvalidInput, "42846", "cannot cast type %s to %s", e.Type().Name(), tname)
}

// sqlValueFunction binds current_user, session_user, user, current_role,
// current_catalog and current_schema.
func (q *query) sqlValueFunction(f *pg.SQLValueFunction) (Expr, error) {
	switch f.GetOp() {
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_USER, pg.SQLValueFunctionOp_SVFOP_USER, pg.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:
		return q.call("current_user", nil)
	case pg.SQLValueFunctionOp_SVFOP_SESSION_USER:
		return q.call("session_user", nil)
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:
		return q.call("current_database", nil)
	case pg.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:
		return q.call("current_schema", nil)
	}
	return nil, unsupported("%s", strings.ToLower(strings.TrimPrefix(f.GetOp().String(), "SVFOP_")))
}

// exprMore binds the expressions only catalog queries use: COLLATE
// (accepted and ignored for the default, C and POSIX collations, which all
// compare bytes here) and ARRAY[...].
func (q *query) exprMore(n *pg.Node, ctx exprCtx) (Expr, error) {
	switch {
	case n.GetCollateClause() != nil:
		cc := n.GetCollateClause()
		var parts []string
		for _, p := range cc.GetCollname() {
			parts = append(parts, p.GetString_().GetSval())
		}
		name := parts[len(parts)-1]
		if len(parts) > 2 || len(parts) == 2 && parts[0] != "pg_catalog" || name != "default" && name != "C" && name != "POSIX" {
			return nil, unsupported("COLLATE %s", strings.Join(parts, "."))
		}
		return q.expr(cc.GetArg(), ctx)
	case n.GetAArrayExpr() != nil:
		var elems []Expr
		for _, it := range n.GetAArrayExpr().GetElements() {
			e, err := q.expr(it, ctx)
			if err != nil {
				return nil, err
			}
			elems = append(elems, e)
		}
		return q.arrayOf(elems)
	}
	return nil, unsupported("expression %s", nodeKind(n))
}

// arrayOf builds an array value from elements of a common type.
func (q *query) arrayOf(elems []Expr) (Expr, error) {
	types := make([]functions.Type, len(elems))
	for i, e := range elems {
		types[i] = e.Type()
	}
	ct := functions.TText
	if len(elems) > 0 {
		var ok bool
		if ct, ok = functions.CommonType(types); !ok {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "ARRAY types cannot be matched")
		}
		if ct == functions.TUnknown {
			ct = functions.TText
		}
	}
	elem := map[functions.Type]string{functions.TBool: "bool", functions.TInt: "int8", functions.TFloat: "float8",
		functions.TTimestamp: "timestamptz", functions.TInterval: "interval", functions.TDate: "date"}[ct]
	if elem == "" {
		elem = "text"
	}
	args := []Expr{&Const{V: elem, T: functions.TText}}
	for _, e := range elems {
		e, err := coerceTo(e, ct, "ARRAY element")
		if err != nil {
			return nil, err
		}
		if e, err = castTo(e, functions.TText); err != nil {
			return nil, err
		}
		args = append(args, e)
	}
	return q.call("ugnos_array", args)
}

// anyAll binds x op ANY (array) and x op ALL (array). Constant arrays
// (ARRAY[...] of constants, current_schemas(…)) become ORs / ANDs of
// comparisons, so IN semantics and pushdown apply; array columns are
// compared element by element at run time (= and <> only).
func (q *query) anyAll(a *pg.A_Expr, ctx exprCtx) (Expr, error) {
	op := a.GetName()[len(a.GetName())-1].GetString_().GetSval()
	if o, ok := opNames[op]; ok {
		op = o
	}
	isAny := a.GetKind() == pg.A_Expr_Kind_AEXPR_OP_ANY
	var elems []*pg.Node
	if arr := a.GetRexpr().GetAArrayExpr(); arr != nil {
		elems = arr.GetElements()
	} else {
		r, err := q.expr(a.GetRexpr(), ctx)
		if err != nil {
			return nil, err
		}
		c, isConst := r.(*Const)
		if !isConst || isParam(c) {
			return q.anyAllColumn(a, op, isAny, r, ctx)
		}
		if c.V == nil {
			return &Const{V: nil, T: functions.TBool}, nil
		}
		s, _ := c.V.(string)
		vals, err := functions.ParseArrayText(s)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if v == nil {
				elems = append(elems, &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Isnull: true}}})
			} else {
				elems = append(elems, pg.MakeAConstStrNode(*v, -1))
			}
		}
	}
	if len(elems) == 0 {
		return &Const{V: !isAny, T: functions.TBool}, nil
	}
	var cmps []*pg.Node
	for _, e := range elems {
		cmps = append(cmps, pg.MakeAExprNode(pg.A_Expr_Kind_AEXPR_OP, a.GetName(), a.GetLexpr(), e, -1))
	}
	if len(cmps) == 1 {
		return q.expr(cmps[0], ctx)
	}
	bop := pg.BoolExprType_OR_EXPR
	if !isAny {
		bop = pg.BoolExprType_AND_EXPR
	}
	return q.expr(pg.MakeBoolExprNode(bop, cmps, -1), ctx)
}

func (q *query) anyAllColumn(a *pg.A_Expr, op string, isAny bool, arr Expr, ctx exprCtx) (Expr, error) {
	if op != "=" && op != "<>" {
		return nil, unsupported("%s %s (array)", op, map[bool]string{true: "ANY", false: "ALL"}[isAny])
	}
	if arr.Type() != functions.TText && arr.Type() != functions.TUnknown {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "op ANY/ALL (array) requires array on right side")
	}
	arr, err := castTo(arr, functions.TText)
	if err != nil {
		return nil, err
	}
	x, err := q.expr(a.GetLexpr(), ctx)
	if err != nil {
		return nil, err
	}
	if x.Type() == functions.TUnknown {
		if x, err = castTo(x, functions.TText); err != nil {
			return nil, err
		}
	}
	// x = ANY (a) and x <> ALL (a) = NOT (x = ANY (a)); x <> ANY and = ALL
	// compare with the negated operator
	name := "ugnos_array_any_eq"
	if op == "<>" && isAny || op == "=" && !isAny {
		name = "ugnos_array_any_ne"
	}
	e, err := q.call(name, []Expr{x, arr})
	if err != nil || isAny {
		return e, err
	}
	return q.call("not", []Expr{e})
}

// setReturning are PostgreSQL's set-returning functions that catalog
// queries use; ugnos has none yet (0A000 rather than 42883).
var setReturning = map[string]bool{"unnest": true, "generate_series": true, "generate_subscripts": true,
	"json_each": true, "jsonb_each": true, "regexp_split_to_table": true, "pg_get_keywords": true}
