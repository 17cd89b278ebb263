package ugnos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// SQL of continuous aggregates: CREATE MATERIALIZED VIEW … WITH
// (ugnos.continuous), REFRESH MATERIALIZED VIEW, DROP MATERIALIZED VIEW,
// the generated text a read of the view plans (cagg.go), and
// ugnos.continuous_aggregates.

func caggUnsupported(format string, args ...any) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "continuous aggregate: "+format, args...)
}

// createMatView runs CREATE MATERIALIZED VIEW.
func (db *DB) createMatView(ctx context.Context, tenant string, p *planner.Planner, st *pg.CreateTableAsStmt) (*Result, error) {
	if st.GetObjtype() != pg.ObjectType_OBJECT_MATVIEW {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "CREATE TABLE … AS is not supported")
	}
	into := st.GetInto()
	rv := into.GetRel()
	if s := rv.GetSchemaname(); s != "" && s != "public" {
		return nil, errs.New(errs.ErrNotFound, "3F000", "schema %q does not exist", s)
	}
	name := rv.GetRelname()
	def := caggDef{Tenant: tenant, Name: name, Mat: caggMatPrefix + name, Created: time.Now().UTC(), Owner: db.ownerOf(sessionFrom(ctx))}
	continuous := false
	for _, o := range into.GetOptions() {
		d := o.GetDefElem()
		key := d.GetDefname()
		if ns := d.GetDefnamespace(); ns != "" {
			key = ns + "." + key
		}
		val := defElemText(d)
		switch key {
		case "ugnos.continuous", "timescaledb.continuous":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, errs.New(errs.ErrInvalidInput, "22023", "invalid value %q for %s", val, key)
			}
			continuous = b
		case "ugnos.refresh_interval", "ugnos.lag", "ugnos.refresh_lag":
			iv, err := functions.ParseInterval(val)
			n, fixed := iv.Fixed()
			if err != nil || !fixed || n < 0 {
				return nil, errs.New(errs.ErrInvalidInput, "22023", "invalid interval %q for %s", val, key)
			}
			if key == "ugnos.refresh_interval" {
				if n < int64(100*time.Millisecond) {
					return nil, errs.New(errs.ErrInvalidInput, "22023", "ugnos.refresh_interval must be at least 100ms")
				}
				def.Refresh = time.Duration(n)
			} else {
				def.Lag = time.Duration(n)
			}
		case "ugnos.materialized_only", "timescaledb.materialized_only":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, errs.New(errs.ErrInvalidInput, "22023", "invalid value %q for %s", val, key)
			}
			def.MaterializedOnly = b
		default:
			return nil, errs.New(errs.ErrInvalidInput, "22023", "unrecognized parameter %q", key)
		}
	}
	if !continuous {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "materialized views are supported only as continuous aggregates: add WITH (ugnos.continuous = true)")
	}
	if err := checkName("view", name); err != nil {
		return nil, err
	}
	if _, err := db.eng.Table(tenant, name); err == nil || db.caggs.get(tenant, name) != nil || hasView(db, tenant, name) {
		if st.GetIfNotExists() {
			return &Result{Tag: "CREATE MATERIALIZED VIEW"}, nil
		}
		return nil, errs.New(errs.ErrInvalidInput, "42P07", "relation %q already exists", name)
	}
	sel := st.GetQuery().GetSelectStmt()
	if sel == nil {
		return nil, caggUnsupported("the query must be a SELECT")
	}
	var colNames []string
	for _, c := range into.GetColNames() {
		colNames = append(colNames, c.GetString_().GetSval())
	}
	if err := db.analyzeCagg(p, &def, sel, colNames); err != nil {
		return nil, err
	}
	if def.Refresh == 0 {
		def.Refresh = min(max(time.Duration(def.Width), time.Second), time.Minute)
	}
	c := &cagg{def: def}
	if err := db.caggs.add(c); err != nil {
		return nil, err
	}
	if !into.GetSkipData() {
		if err := c.refresh(ctx); err != nil {
			if derr := db.caggs.drop(c); derr != nil { // nothing half-made stays
				return nil, errors.Join(err, derr)
			}
			return nil, err
		}
	}
	return &Result{Tag: "CREATE MATERIALIZED VIEW"}, nil
}

func hasView(db *DB, tenant, name string) bool {
	_, ok := db.eng.View(tenant, name)
	return ok
}

// defElemText is an option's value as text (no value: "true").
func defElemText(d *pg.DefElem) string {
	a := d.GetArg()
	switch {
	case a == nil:
		return "true"
	case a.GetString_() != nil:
		return a.GetString_().GetSval()
	case a.GetInteger() != nil:
		return strconv.Itoa(int(a.GetInteger().GetIval()))
	case a.GetBoolean() != nil:
		return strconv.FormatBool(a.GetBoolean().GetBoolval())
	case a.GetTypeName() != nil:
		names := a.GetTypeName().GetNames()
		if len(names) > 0 {
			return names[len(names)-1].GetString_().GetSval()
		}
	}
	return exprText(a)
}

// exprText deparses an expression.
func exprText(n *pg.Node) string {
	sel := &pg.SelectStmt{TargetList: []*pg.Node{pg.MakeResTargetNodeWithVal(n, 0)}, LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg.SetOperation_SETOP_NONE}
	s, err := deparseSelect(sel)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(s, "SELECT ")
}

func deparseSelect(sel *pg.SelectStmt) (string, error) {
	return pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}})
}

func funcName(n *pg.Node) string {
	fc := n.GetFuncCall()
	if fc == nil {
		return ""
	}
	parts := fc.GetFuncname()
	if len(parts) == 0 {
		return ""
	}
	return strings.ToLower(parts[len(parts)-1].GetString_().GetSval())
}

func columnRefName(n *pg.Node) string {
	cr := n.GetColumnRef()
	if cr == nil {
		return ""
	}
	f := cr.GetFields()
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1].GetString_().GetSval()
}

// analyzeCagg checks a continuous aggregate's query and fills in def:
// one raw table, GROUP BY one time_bucket(width, time) (or
// time_bucket_gapfill(width, time, start, finish)) and tag columns, all in
// the select list, and aggregates of types a table can store.
func (db *DB) analyzeCagg(p *planner.Planner, def *caggDef, sel *pg.SelectStmt, colNames []string) error {
	switch {
	case sel.GetOp() != pg.SetOperation_SETOP_NONE:
		return caggUnsupported("UNION, INTERSECT and EXCEPT are not supported")
	case sel.GetWithClause() != nil:
		return caggUnsupported("WITH is not supported")
	case len(sel.GetDistinctClause()) > 0:
		return caggUnsupported("DISTINCT is not supported")
	case len(sel.GetSortClause()) > 0 || sel.GetLimitCount() != nil || sel.GetLimitOffset() != nil:
		return caggUnsupported("ORDER BY, LIMIT and OFFSET are not supported")
	case len(sel.GetWindowClause()) > 0:
		return caggUnsupported("window functions are not supported")
	case len(sel.GetGroupClause()) == 0:
		return caggUnsupported("the query needs GROUP BY time_bucket(…)")
	case len(sel.GetFromClause()) != 1 || sel.GetFromClause()[0].GetRangeVar() == nil:
		return caggUnsupported("the query must read exactly one table (no joins or subqueries in FROM)")
	}
	rv := sel.GetFromClause()[0].GetRangeVar()
	if s := rv.GetSchemaname(); s != "" && s != "public" {
		return caggUnsupported("the source must be a table of the database, not %s.%s", s, rv.GetRelname())
	}
	def.Source = rv.GetRelname()
	src, err := db.eng.Table(def.Tenant, def.Source)
	if err != nil {
		if hasView(db, def.Tenant, def.Source) || db.caggs.get(def.Tenant, def.Source) != nil {
			return caggUnsupported("the source %q is a view; it must be a table", def.Source)
		}
		return err
	}
	if db.caggs.isMat(def.Tenant, def.Source) {
		return caggUnsupported("the source %q is the materialization of another continuous aggregate", def.Source)
	}
	tags := map[string]bool{}
	for _, c := range src.Columns() {
		if c.Kind == arrowstore.KindTag {
			tags[c.Name] = true
		}
	}
	plan, err := p.PlanSelect(sel)
	if err != nil {
		return err
	}
	out := plan.Columns()
	targets := sel.GetTargetList()
	if len(targets) != len(out) {
		return caggUnsupported("* in the select list is not supported; name the columns")
	}
	if len(colNames) > len(out) {
		return errs.New(errs.ErrInvalidInput, "42601", "too many column names were specified")
	}
	names := make([]string, len(out))
	seen := map[string]bool{}
	for i, c := range out {
		names[i] = c.Name
		if i < len(colNames) {
			names[i] = colNames[i]
		}
		if seen[names[i]] {
			return errs.New(errs.ErrInvalidInput, "42701", "continuous aggregate: column %q specified more than once; give the columns distinct names", names[i])
		}
		seen[names[i]] = true
	}
	roles := make([]string, len(out))
	// the GROUP BY items
	bucketAt := -1
	for _, g := range sel.GetGroupClause() {
		at := -1
		switch {
		case g.GetAConst() != nil && g.GetAConst().GetIval() != nil:
			at = int(g.GetAConst().GetIval().GetIval()) - 1
		case columnRefName(g) != "" && len(g.GetColumnRef().GetFields()) == 1:
			n := columnRefName(g)
			for i, t := range targets {
				if t.GetResTarget().GetName() == n {
					at = i
				}
			}
			if at < 0 {
				for i, t := range targets {
					if t.GetResTarget().GetName() == "" && columnRefName(t.GetResTarget().GetVal()) == n {
						at = i
					}
				}
			}
		default:
			txt := exprText(g)
			for i, t := range targets {
				if exprText(t.GetResTarget().GetVal()) == txt {
					at = i
				}
			}
		}
		if at < 0 || at >= len(targets) {
			return caggUnsupported("GROUP BY %s must be a column of the select list", exprText(g))
		}
		val := targets[at].GetResTarget().GetVal()
		switch fn := funcName(val); {
		case fn == "time_bucket" || fn == "time_bucket_gapfill":
			if bucketAt >= 0 && bucketAt != at {
				return caggUnsupported("only one time_bucket may be grouped by")
			}
			bucketAt = at
			roles[at] = "bucket"
		case columnRefName(val) != "" && tags[columnRefName(val)]:
			roles[at] = "tag"
		default:
			return caggUnsupported("GROUP BY %s: only time_bucket(…) and tag columns may be grouped by", exprText(g))
		}
	}
	if bucketAt < 0 {
		return caggUnsupported("the query needs GROUP BY time_bucket(width, time)")
	}
	if names[bucketAt] == "time" {
		// fine: the materialization's time column is the bucket
	} else if seen["time"] {
		return caggUnsupported("only the bucket may be named \"time\"")
	}
	bucket := targets[bucketAt].GetResTarget().GetVal().GetFuncCall()
	args := bucket.GetArgs()
	gapfill := funcName(targets[bucketAt].GetResTarget().GetVal()) == "time_bucket_gapfill"
	switch {
	case gapfill && len(args) != 4:
		return caggUnsupported("time_bucket_gapfill needs start and finish arguments in a continuous aggregate")
	case !gapfill && len(args) != 2:
		return caggUnsupported("time_bucket with an offset or origin is not supported")
	case columnRefName(args[1]) != "time":
		return caggUnsupported("time_bucket must bucket the time column")
	}
	width, err := constInterval(args[0])
	if err != nil {
		return err
	}
	def.Width, def.Origin = width, functions.BucketOrigin

	// the materializing query: outputs named, gap filling taken out
	mat := proto.Clone(sel).(*pg.SelectStmt)
	for i, t := range mat.GetTargetList() {
		rt := t.GetResTarget()
		rt.Name = names[i]
		col := caggColumn{Name: names[i], Role: roles[i]}
		if col.Role == "" {
			col.Role = "field"
			switch fn := funcName(rt.GetVal()); fn {
			case "locf", "interpolate":
				if !gapfill {
					return caggUnsupported("%s needs time_bucket_gapfill", fn)
				}
				fargs := rt.GetVal().GetFuncCall().GetArgs()
				fill := fn + "(#"
				for _, a := range fargs[1:] {
					fill += ", " + exprText(a)
				}
				col.Fill = fill + ")"
				rt.Val = fargs[0]
			}
		}
		if col.Role == "bucket" && gapfill {
			fc := proto.Clone(rt.GetVal().GetFuncCall()).(*pg.FuncCall)
			fc.Funcname = []*pg.Node{pg.MakeStrNode("time_bucket")}
			fc.Args = fc.Args[:2]
			rt.Val = &pg.Node{Node: &pg.Node_FuncCall{FuncCall: fc}}
		}
		def.Columns = append(def.Columns, col)
	}
	if gapfill {
		def.Gapfill = &caggGapfill{Start: exprText(args[2]), Finish: exprText(args[3])}
	}
	if def.MatQuery, err = deparseSelect(mat); err != nil {
		return errs.Wrap(errs.ErrInternal, errs.CodeInternal, err, "continuous aggregate query")
	}
	if def.Query, err = deparseSelect(sel); err != nil {
		return errs.Wrap(errs.ErrInternal, errs.CodeInternal, err, "continuous aggregate query")
	}
	// the kept columns must be storable
	mplan, err := p.PlanSelect(mat)
	if err != nil {
		return err
	}
	for i, c := range mplan.Columns() {
		col := &def.Columns[i]
		switch col.Role {
		case "bucket", "tag":
			continue
		}
		switch c.T {
		case functions.TFloat, functions.TInt, functions.TBool, functions.TText:
			col.Type = c.T.Name()
		default:
			return caggUnsupported("column %q has type %s, which a continuous aggregate cannot keep; cast it to double precision, bigint, boolean or text", col.Name, c.T.Name())
		}
	}
	// the generated read must plan (gap filling over the kept columns)
	probe := &cagg{def: *def, watermark: 0}
	if _, err := p.PlanSelect(mustSelect(probe.readSQL(arrowstore.MinTime, 0, []span{{-int64(time.Hour), 0}}))); err != nil {
		return err
	}
	return nil
}

func mustSelect(q string) *pg.SelectStmt {
	r, err := pg.Parse(q)
	if err != nil || len(r.GetStmts()) != 1 {
		return &pg.SelectStmt{}
	}
	return r.GetStmts()[0].GetStmt().GetSelectStmt()
}

// constInterval reads a constant interval ('1 hour', INTERVAL '1 hour').
func constInterval(n *pg.Node) (int64, error) {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.GetArg()
	}
	ac := n.GetAConst()
	if ac == nil || ac.GetSval() == nil {
		return 0, caggUnsupported("the bucket width must be a constant interval")
	}
	iv, err := functions.ParseInterval(ac.GetSval().GetSval())
	if err != nil {
		return 0, err
	}
	w, fixed := iv.Fixed()
	if !fixed || w <= 0 {
		return 0, caggUnsupported("the bucket width must be a positive interval without months")
	}
	return w, nil
}

// timeLiteral is a timestamp constant for generated SQL.
func timeLiteral(ns int64) string {
	return "'" + time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.999999999") + "+00'::timestamptz"
}

// withTimeRange adds lo <= time < hi (MinTime/MaxTime: unbounded) to the
// WHERE clause of a SELECT text.
func withTimeRange(query string, lo, hi int64) string {
	sel := mustSelect(query)
	var conds []string
	if lo > arrowstore.MinTime {
		conds = append(conds, `"time" >= `+timeLiteral(lo))
	}
	if hi < arrowstore.MaxTime {
		conds = append(conds, `"time" < `+timeLiteral(hi))
	}
	if len(conds) == 0 {
		return query
	}
	where := mustSelect("SELECT 1 WHERE " + strings.Join(conds, " AND ")).GetWhereClause()
	if w := sel.GetWhereClause(); w != nil {
		where = pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, []*pg.Node{w, where}, 0)
	}
	sel.WhereClause = where
	s, err := deparseSelect(sel)
	if err != nil {
		return query
	}
	return s
}

// read returns the text a read of the view plans, from the state now.
func (c *cagg) read() string {
	if c.def.MaterializedOnly {
		return c.readSQL(arrowstore.MaxTime, arrowstore.MinTime, nil)
	}
	w, inv := c.state(c.horizon(time.Now()))
	raw := w
	if !c.rawAfter(w) {
		raw = arrowstore.MaxTime // nothing past the materialized buckets
	}
	return c.readSQL(w, raw, inv)
}

// readSQL unites the materialization below w less the invalid spans and
// the defining query over the raw table for the spans and from raw on
// (raw MaxTime: no rows there).
func (c *cagg) readSQL(w, raw int64, inv []span) string {
	var matCols []string
	for _, col := range c.def.Columns {
		if col.Role == "bucket" {
			matCols = append(matCols, `"time" AS `+quoteIdent(col.Name))
		} else {
			matCols = append(matCols, quoteIdent(col.Name))
		}
	}
	matSel := "SELECT " + strings.Join(matCols, ", ") + " FROM " + quoteIdent(c.def.Mat)
	var parts []string
	lo := arrowstore.MinTime
	for _, s := range append(inv, span{w, w}) {
		if s.lo > lo && lo < w {
			parts = append(parts, withTimeRange(matSel, lo, min(s.lo, w)))
		}
		lo = max(lo, s.hi)
	}
	for _, s := range inv {
		parts = append(parts, withTimeRange(c.def.MatQuery, s.lo, s.hi))
	}
	if raw < arrowstore.MaxTime {
		parts = append(parts, withTimeRange(c.def.MatQuery, raw, arrowstore.MaxTime))
	}
	if len(parts) == 0 {
		parts = append(parts, matSel+" WHERE false")
	}
	inner := "(" + strings.Join(parts, ") UNION ALL (") + ")"
	if c.def.Gapfill == nil {
		if len(parts) == 1 {
			return parts[0]
		}
		return "SELECT * FROM (" + inner + ") AS _cagg"
	}
	// gap filling over the kept rows: one row per bucket and group, so
	// max() is the value itself
	var outs, groups []string
	for i, col := range c.def.Columns {
		q := quoteIdent(col.Name)
		switch col.Role {
		case "bucket":
			outs = append(outs, fmt.Sprintf("time_bucket_gapfill(%s, %s, %s, %s) AS %s", intervalLiteral(c.def.Width), q, c.def.Gapfill.Start, c.def.Gapfill.Finish, q))
			groups = append(groups, strconv.Itoa(i+1))
		case "tag":
			outs = append(outs, q)
			groups = append(groups, strconv.Itoa(i+1))
		default:
			v := "max(" + q + ")"
			if col.Fill != "" {
				v = strings.Replace(col.Fill, "#", v, 1)
			}
			outs = append(outs, v+" AS "+q)
		}
	}
	return "SELECT " + strings.Join(outs, ", ") + " FROM (" + inner + ") AS _cagg GROUP BY " + strings.Join(groups, ", ")
}

func intervalLiteral(ns int64) string {
	if ns%int64(time.Second) == 0 {
		return fmt.Sprintf("interval '%d seconds'", ns/int64(time.Second))
	}
	return fmt.Sprintf("interval '%d microseconds'", ns/int64(time.Microsecond))
}

// materialRows is a batch of recomputed rows in the materialization's form.
type materialRows struct{ rec arrow.RecordBatch }

func (m materialRows) release() { m.rec.Release() }

// compute runs the materializing query over the buckets of s.
func (c *cagg) compute(ctx context.Context, s span) ([]materialRows, error) {
	rd, err := c.set.db.SQL(ctx, c.def.Tenant, withTimeRange(c.def.MatQuery, s.lo, s.hi))
	if err != nil {
		return nil, err
	}
	defer rd.Release()
	var out []materialRows
	fail := func(err error) ([]materialRows, error) {
		for _, r := range out {
			r.release()
		}
		return nil, err
	}
	for rd.Next() {
		rec := rd.RecordBatch()
		if rec.NumRows() == 0 {
			continue
		}
		fields := make([]arrow.Field, len(c.def.Columns))
		cols := make([]arrow.Array, len(c.def.Columns))
		for i, col := range c.def.Columns {
			arr := rec.Column(i)
			f := arrow.Field{Name: col.Name, Type: arr.DataType(), Nullable: true}
			switch col.Role {
			case "bucket":
				f.Name, f.Nullable = "time", false
			case "field":
				if storeType(col.Type) == arrowstore.TypeString {
					f.Metadata = arrow.NewMetadata([]string{"ugnos.kind"}, []string{"field"})
				}
			case "tag":
				if d, ok := arr.(*array.Dictionary); ok { // plain strings for the writer
					plain, err := dictToStrings(d)
					if err != nil {
						return fail(err)
					}
					defer plain.Release()
					arr = plain
					f.Type = arrow.BinaryTypes.String
				}
			}
			fields[i], cols[i] = f, arr
		}
		out = append(out, materialRows{array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows())})
	}
	if err := rd.Err(); err != nil {
		return fail(err)
	}
	return out, nil
}

func dictToStrings(d *array.Dictionary) (arrow.Array, error) {
	vals, ok := d.Dictionary().(*array.String)
	if !ok {
		return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: dictionary of %s", d.Dictionary().DataType())
	}
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	for i := 0; i < d.Len(); i++ {
		if d.IsNull(i) {
			b.AppendNull()
			continue
		}
		b.Append(vals.Value(d.GetValueIndex(i)))
	}
	return b.NewArray(), nil
}

// timeValue reads a timestamp (ns) from a result column.
func timeValue(col arrow.Array, i int) (int64, error) {
	switch a := col.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return int64(a.Value(i)) * int64(unit.Multiplier()), nil
	case *array.Int64:
		return a.Value(i), nil
	}
	return 0, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: time column of type %s", col.DataType())
}

// refreshMatView runs REFRESH MATERIALIZED VIEW.
func (db *DB) refreshMatView(ctx context.Context, tenant string, st *pg.RefreshMatViewStmt) (*Result, error) {
	name := st.GetRelation().GetRelname()
	c := db.caggs.get(tenant, name)
	if c == nil {
		if _, err := db.eng.Table(tenant, name); err == nil || hasView(db, tenant, name) {
			return nil, errs.New(errs.ErrInvalidInput, "42809", "%q is not a materialized view", name)
		}
		return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation %q does not exist", name)
	}
	if st.GetSkipData() {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "REFRESH MATERIALIZED VIEW … WITH NO DATA is not supported for continuous aggregates")
	}
	if err := c.refresh(ctx); err != nil {
		return nil, err
	}
	return &Result{Tag: "REFRESH MATERIALIZED VIEW"}, nil
}

// dropMatViews runs DROP MATERIALIZED VIEW.
func (db *DB) dropMatViews(tenant string, ds *pg.DropStmt) (*Result, error) {
	var list []*cagg
	for _, o := range ds.GetObjects() {
		items := o.GetList().GetItems()
		name := items[len(items)-1].GetString_().GetSval()
		c := db.caggs.get(tenant, name)
		if c == nil {
			if ds.GetMissingOk() {
				continue
			}
			return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "materialized view %q does not exist", name)
		}
		list = append(list, c)
	}
	for _, c := range list {
		if err := db.caggs.drop(c); err != nil {
			return nil, err
		}
	}
	return &Result{Tag: "DROP MATERIALIZED VIEW"}, nil
}

// checkDropTable refuses to drop a table continuous aggregates depend on
// (CASCADE drops them first) or a materialization.
func (db *DB) checkDropTable(tenant, name string, cascade bool) error {
	if db.caggs.isMat(tenant, name) {
		return errs.New(errs.ErrInvalidInput, "2BP01", "cannot drop table %s: it is the materialization of a continuous aggregate (use DROP MATERIALIZED VIEW)", name)
	}
	deps := db.caggs.bySourceTable(tenant, name)
	if len(deps) == 0 {
		return nil
	}
	if !cascade {
		return errs.New(errs.ErrInvalidInput, "2BP01", "cannot drop table %s because continuous aggregate %s depends on it (use DROP … CASCADE)", name, deps[0].def.Name)
	}
	for _, c := range deps {
		if err := db.caggs.drop(c); err != nil {
			return err
		}
	}
	return nil
}

// caggRecord lays out ugnos.continuous_aggregates.
func (t *ugnosTable) caggRecord() arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, t.Schema())
	defer b.Release()
	str := func(i int, s string) { b.Field(i).(*array.StringBuilder).Append(s) }
	iv := func(i int, d int64) {
		const day = int64(24 * time.Hour)
		b.Field(i).(*array.MonthDayNanoIntervalBuilder).Append(arrow.MonthDayNanoInterval{Days: int32(d / day), Nanoseconds: d % day})
	}
	ts := func(i int, ns int64, ok bool) {
		if !ok {
			b.Field(i).AppendNull()
			return
		}
		b.Field(i).(*array.TimestampBuilder).Append(arrow.Timestamp(ns))
	}
	f := t.db.catalogFilter(t.client)
	for _, c := range t.db.caggs.list(t.tenant) {
		if !f.table(t.tenant, c.def.Name) {
			continue
		}
		c.st.Lock()
		str(0, c.def.Name)
		str(1, c.def.Source)
		str(2, c.def.Mat)
		iv(3, c.def.Width)
		iv(4, int64(c.def.Refresh))
		iv(5, int64(c.def.Lag))
		b.Field(6).(*array.BooleanBuilder).Append(c.def.MaterializedOnly)
		ts(7, c.watermark, c.watermark > arrowstore.MinTime)
		b.Field(8).(*array.Int64Builder).Append(int64(len(c.invalid)))
		ts(9, c.lastRefresh.UnixNano(), !c.lastRefresh.IsZero())
		b.Field(10).(*array.Int64Builder).Append(c.refreshes)
		if c.lastErr == "" {
			b.Field(11).AppendNull()
		} else {
			str(11, c.lastErr)
		}
		str(12, c.def.Query)
		if c.def.Owner == "" {
			b.Field(13).AppendNull()
		} else {
			str(13, c.def.Owner)
		}
		c.st.Unlock()
	}
	return b.NewRecordBatch()
}

// holdCagg takes an aggregate's read lock for the statement (once).
func (s *pgSession) holdCagg(c *cagg) {
	for _, h := range s.held {
		if h == c {
			return
		}
	}
	c.rw.RLock()
	s.held = append(s.held, c)
}

// releaseCaggs lets refreshes rewrite again once the statement's scans
// are open.
func (s *pgSession) releaseCaggs() { s.releaseCaggsFrom(0) }

// releaseCaggsFrom releases the locks taken after the first n (planning
// that runs nothing: a view's columns for the catalogs).
func (s *pgSession) releaseCaggsFrom(n int) {
	for _, c := range s.held[n:] {
		c.rw.RUnlock()
	}
	s.held = s.held[:n]
}
