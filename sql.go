package ugnos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/exec"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/planner"
)

// catalog resolves a tenant's tables for the planner.
type catalog struct {
	db     *DB
	tenant string
	pg     *pgSession // system catalogs and session functions (catalog_pg.go)
}

// View returns a view's text; a continuous aggregate's is generated from
// its state now, under its read lock (held for the statement).
func (c catalog) View(name string) (string, bool) {
	if cg := c.db.caggs.get(c.tenant, name); cg != nil {
		if c.pg != nil {
			c.pg.holdCagg(cg)
			if c.db.authorizeTable(c.pg.client, c.tenant, name, PrivSelect) == nil &&
				c.db.authorizeTable(ownerSession(cg.def.Owner), c.tenant, cg.def.Source, PrivSelect) == nil {
				// the view's own reads run with its owner's rights
				c.pg.granted = append(c.pg.granted, cg.def.Mat, cg.def.Source)
			}
		}
		return cg.read(), true
	}
	return c.db.eng.View(c.tenant, name)
}

func (c catalog) Table(name string) ([]planner.ScanColumn, error) {
	if c.pg != nil && !slices.Contains(c.pg.granted, name) {
		if err := c.db.authorizeTable(c.pg.client, c.tenant, name, PrivSelect); err != nil {
			return nil, err
		}
	}
	t, err := c.db.eng.Table(c.tenant, name)
	if err != nil {
		return nil, err
	}
	var out []planner.ScanColumn
	for _, col := range t.Columns() {
		sc := planner.ScanColumn{Name: col.Name}
		switch col.Kind {
		case arrowstore.KindTime:
			sc.Kind, sc.T = planner.KindTime, functions.TTimestamp
		case arrowstore.KindTag:
			sc.Kind, sc.T = planner.KindTag, functions.TText
		default:
			sc.Kind = planner.KindField
			switch col.Type {
			case arrowstore.TypeFloat:
				sc.T = functions.TFloat
			case arrowstore.TypeInt:
				sc.T = functions.TInt
			case arrowstore.TypeBool:
				sc.T = functions.TBool
			default:
				sc.T = functions.TText
			}
		}
		out = append(out, sc)
	}
	return out, nil
}

// SQL runs one SQL statement for a tenant and returns its rows as Arrow
// record batches (statements without rows give an empty reader). The caller
// must Release the reader. See Exec and the README's SQL section for what
// is supported; anything else fails with SQLSTATE 0A000 naming it.
//
// args are the values of $1, $2, …: nil, bool, Go integers, floats,
// strings (typed by context, like quoted literals), time.Time and
// time.Duration (an interval).
func (db *DB) SQL(ctx context.Context, tenant, query string, args ...any) (array.RecordReader, error) {
	res, err := db.Exec(ctx, tenant, query, args...)
	if err != nil {
		return nil, err
	}
	if res.Rows == nil {
		return array.NewRecordReader(arrow.NewSchema(nil, nil), nil)
	}
	return res.Rows, nil
}

// Result is the outcome of Exec.
type Result struct {
	// Rows streams a query's result; nil for statements without rows. The
	// caller must Release it.
	Rows array.RecordReader
	// Tag is PostgreSQL's command tag: "SELECT", "INSERT 0 3", "DELETE 5",
	// "CREATE TABLE", … (for SELECT the row count is not known up front).
	Tag string
	// RowsAffected counts rows inserted or deleted.
	RowsAffected int64
}

// Exec runs one SQL statement for a tenant: SELECT and EXPLAIN (rows),
// INSERT … VALUES / INSERT … SELECT, DELETE (time ranges and tag
// predicates), TRUNCATE, CREATE TABLE, DROP TABLE, CREATE DATABASE,
// DROP DATABASE and CHECKPOINT (of the whole database; admin.go).
func (db *DB) Exec(ctx context.Context, tenant, query string, args ...any) (*Result, error) {
	ctx, stop := db.statementContext(ctx, tenant)
	res, err := db.execContained(ctx, tenant, query, args...)
	if err != nil {
		err = db.statementErr(ctx, tenant, err)
		err = db.memErr(tenant, err)
		db.queries.errors.add(err)
	}
	if err == nil && res != nil && res.Rows != nil {
		res.Rows = db.limitResult(ctx, tenant, res.Rows, stop)
	} else if stop != nil {
		stop()
	}
	return res, err
}

// execContained runs exec; a panic in it (a bug) fails the statement
// with XX000 and an error log with its stack, not the process.
func (db *DB) execContained(ctx context.Context, tenant, query string, args ...any) (res *Result, err error) {
	defer func() {
		var pe *errs.PanicError
		if errors.As(err, &pe) {
			db.log.Error("panic running a statement", "tenant", tenant, "statement", truncate(query, 1000), "panic", pe.Value, "stack", string(pe.Stack))
		}
	}()
	defer errs.Recover(&err)
	return db.exec(ctx, tenant, query, args...)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (db *DB) exec(ctx context.Context, tenant, query string, args ...any) (*Result, error) {
	if err := checkName("database", tenant); err != nil {
		return nil, err
	}
	node, err := db.parseOne(query, "runs")
	if err != nil {
		return nil, err
	}
	// database-level statements do not need the tenant to exist
	switch {
	case node.GetGrantStmt() != nil:
		return db.grantStmt(sessionFrom(ctx), tenant, node.GetGrantStmt())
	case node.GetAlterDatabaseStmt() != nil:
		return db.alterDatabase(sessionFrom(ctx), node.GetAlterDatabaseStmt())
	case node.GetAlterDatabaseSetStmt() != nil:
		return db.alterDatabaseSet(sessionFrom(ctx), node.GetAlterDatabaseSetStmt())
	case node.GetCreatedbStmt() != nil:
		if err := db.authorizeSuperuser(sessionFrom(ctx), "CREATE DATABASE"); err != nil {
			return nil, err
		}
		return &Result{Tag: "CREATE DATABASE"}, db.eng.CreateTenantStrict(node.GetCreatedbStmt().GetDbname())
	case node.GetDropdbStmt() != nil:
		if err := db.authorizeSuperuser(sessionFrom(ctx), "DROP DATABASE"); err != nil {
			return nil, err
		}
		d := node.GetDropdbStmt()
		if err := db.eng.DropTenant(d.GetDbname(), d.GetMissingOk()); err != nil {
			return nil, err
		}
		for _, c := range db.caggs.list(d.GetDbname()) {
			if err := db.caggs.remove(c); err != nil {
				return nil, err
			}
		}
		if err := db.quotas.drop(d.GetDbname()); err != nil {
			return nil, err
		}
		return &Result{Tag: "DROP DATABASE"}, nil
	case node.GetCheckPointStmt() != nil:
		return db.checkpointStmt(ctx)
	case node.GetNotifyStmt() != nil:
		return db.notifyStmt(tenant, sessionFrom(ctx), node.GetNotifyStmt())
	case node.GetCreateRoleStmt() != nil:
		return db.createRole(sessionFrom(ctx), node.GetCreateRoleStmt())
	case node.GetAlterRoleStmt() != nil:
		return db.alterRole(sessionFrom(ctx), node.GetAlterRoleStmt())
	case node.GetDropRoleStmt() != nil:
		return db.dropRoles(sessionFrom(ctx), node.GetDropRoleStmt())
	}
	if !db.eng.HasTenant(tenant) {
		if _, err := db.eng.Tables(tenant); err != nil {
			return nil, err
		}
	}
	client := sessionFrom(ctx)
	if err := db.authorizeStatement(client, tenant, node); err != nil {
		return nil, err
	}
	pgs := newPGSession(db, tenant, client)
	defer pgs.releaseCaggs() // scans are open once the statement returns
	pgs.ctx = ctx
	p := &planner.Planner{Cat: catalog{db: db, tenant: tenant, pg: pgs}, Reg: pgs.reg, Now: time.Now(), Params: args, Text: query}
	switch {
	case node.GetSelectStmt() != nil:
		sel, err := positionalArgs(node.GetSelectStmt())
		if err != nil {
			return nil, err
		}
		plan, err := p.PlanSelect(sel)
		if err != nil {
			return nil, err
		}
		rd, err := db.run(ctx, pgs, plan)
		if err != nil {
			return nil, err
		}
		return &Result{Rows: rd, Tag: "SELECT"}, nil
	case node.GetExplainStmt() != nil:
		rd, err := db.explain(ctx, pgs, p, node.GetExplainStmt())
		if err != nil {
			return nil, err
		}
		return &Result{Rows: rd, Tag: "EXPLAIN"}, nil
	case node.GetCreateStmt() != nil:
		return db.createTable(tenant, node.GetCreateStmt())
	case node.GetDropStmt() != nil:
		return db.dropStmt(tenant, node.GetDropStmt())
	case node.GetInsertStmt() != nil:
		return db.insert(ctx, tenant, p, node.GetInsertStmt())
	case node.GetDeleteStmt() != nil:
		return db.deleteStmt(ctx, tenant, p, node.GetDeleteStmt())
	case node.GetAlterTableStmt() != nil:
		return db.alterTable(tenant, node.GetAlterTableStmt())
	case node.GetViewStmt() != nil:
		return db.createView(tenant, p, node.GetViewStmt())
	case node.GetCreateTableAsStmt() != nil:
		return db.createMatView(ctx, tenant, p, node.GetCreateTableAsStmt())
	case node.GetRefreshMatViewStmt() != nil:
		return db.refreshMatView(ctx, tenant, node.GetRefreshMatViewStmt())
	case node.GetTruncateStmt() != nil:
		for _, r := range node.GetTruncateStmt().GetRelations() {
			name := r.GetRangeVar().GetRelname()
			if _, err := db.eng.Delete(ctx, tenant, name, arrowstore.MinTime, arrowstore.MaxTime, nil); err != nil {
				return nil, err
			}
		}
		return &Result{Tag: "TRUNCATE TABLE"}, nil
	}
	return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "%s statements are not supported yet", stmtKind(node))
}

func (db *DB) explain(ctx context.Context, pgs *pgSession, p *planner.Planner, ex *pg.ExplainStmt) (array.RecordReader, error) {
	analyze := false
	for _, o := range ex.GetOptions() {
		switch name := o.GetDefElem().GetDefname(); name {
		case "analyze":
			analyze = o.GetDefElem().GetArg() == nil || !strings.EqualFold(o.GetDefElem().GetArg().GetString_().GetSval(), "false")
		case "verbose", "costs", "timing", "summary", "buffers":
		default:
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "EXPLAIN option %s is not supported", strings.ToUpper(name))
		}
	}
	sel := ex.GetQuery().GetSelectStmt()
	if sel == nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "EXPLAIN of %s is not supported", stmtKind(ex.GetQuery()))
	}
	plan, err := p.PlanSelect(sel)
	if err != nil {
		return nil, err
	}
	text := planner.Explain(plan)
	if analyze {
		prof := exec.NewProfile()
		start := time.Now()
		op, err := exec.Build(plan, exec.Env{
			Table:   pgs.table,
			Reg:     pgs.reg,
			Mem:     db.queryBudget(pgs.tenant),
			Profile: prof,
		})
		if err != nil {
			return nil, err
		}
		recs, err := exec.Drain(ctx, op)
		op.Close()
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			r.Release()
		}
		text = planner.ExplainWith(plan, prof.Describe) + fmt.Sprintf("Execution Time: %.3f ms\n", float64(time.Since(start).Microseconds())/1000)
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	vals := make([]any, len(lines))
	for i, l := range lines {
		vals[i] = l
	}
	col := functions.NewOf(functions.TText, vals)
	defer col.Release()
	schema := arrow.NewSchema([]arrow.Field{{Name: "QUERY PLAN", Type: arrow.BinaryTypes.String}}, nil)
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(len(lines)))
	defer rec.Release()
	return array.NewRecordReader(schema, []arrow.RecordBatch{rec})
}

func stmtKind(n *pg.Node) string {
	s := strings.TrimSuffix(nodeTypeName(n), "Stmt")
	return strings.ToUpper(s)
}

func nodeTypeName(n *pg.Node) string {
	s := strings.TrimPrefix(strings.TrimPrefix(typeName(n.GetNode()), "*pg_query.Node_"), "*pg_query.")
	return s
}

func (db *DB) run(ctx context.Context, pgs *pgSession, plan planner.Node) (array.RecordReader, error) {
	start := time.Now()
	var stats arrowstore.ScanStats
	_, rootProject := plan.(*planner.Project)
	db.queries.running.Add(1)
	op, err := exec.Build(plan, exec.Env{
		Table: pgs.table,
		Reg:   pgs.reg,
		Stats: &stats,
		Mem:   db.queryBudget(pgs.tenant),
		// a client that asked for them gets tag columns dictionary-encoded
		KeepTagDictionaries: rootProject && pgs.client != nil && pgs.client.DictionaryTags,
	})
	if err != nil {
		db.queries.running.Add(-1)
		return nil, err
	}
	rd := exec.NewReader(ctx, op)
	return &statsReader{Reader: rd, done: func() {
		db.queries.running.Add(-1)
		db.queries.record(time.Since(start), stats.RowsScanned.Load())
		if err := rd.Err(); err != nil {
			db.queries.errors.add(err)
		}
	}}, nil
}

// statsReader records the query's figures when it is released.
type statsReader struct {
	*exec.Reader
	done func()
	once bool
}

func (r *statsReader) Release() {
	r.Reader.Release()
	if !r.once {
		r.once = true
		r.done()
	}
}

func typeName(v any) string { return strings.TrimPrefix(fmtType(v), "") }

func fmtType(v any) string { return fmt.Sprintf("%T", v) }

// Description is what a statement takes and returns, without running it.
type Description struct {
	// Params are the types of $1, $2, … as inferred from their use
	// (PostgreSQL names; unconstrained parameters are text).
	Params []string
	// Columns are the result columns (empty for statements without rows).
	Columns []ColumnDescription
}

// ColumnDescription is a result column.
type ColumnDescription struct {
	Name string
	Type string // PostgreSQL type name of the values
	// PGType is the pg_type.typname a catalog column is announced as where
	// it is narrower than Type (oid, int4, name, …); "" otherwise.
	PGType string
}

// Describe plans a statement without parameter values and reports the
// parameter types it expects and the columns it returns, as a PostgreSQL
// server does for a prepared statement.
func (db *DB) Describe(ctx context.Context, tenant, query string) (*Description, error) {
	if err := checkName("database", tenant); err != nil {
		return nil, err
	}
	node, err := db.parseOne(query, "describes")
	if err != nil {
		return nil, err
	}
	pgs := newPGSession(db, tenant, sessionFrom(ctx))
	defer pgs.releaseCaggs()
	p := &planner.Planner{Cat: catalog{db: db, tenant: tenant, pg: pgs}, Reg: pgs.reg, Now: time.Now(), InferParams: true, Text: query}
	d := &Description{}
	switch {
	case node.GetSelectStmt() != nil:
		sel, err := positionalArgs(node.GetSelectStmt())
		if err != nil {
			return nil, err
		}
		plan, err := p.PlanSelect(sel)
		if err != nil {
			return nil, err
		}
		for _, c := range plan.Columns() {
			t := c.T
			if t == functions.TUnknown {
				t = functions.TText
			}
			d.Columns = append(d.Columns, ColumnDescription{Name: c.Name, Type: t.Name(), PGType: c.PGType})
		}
	case node.GetInsertStmt() != nil:
		if err := db.describeInsert(tenant, p, node.GetInsertStmt()); err != nil {
			return nil, err
		}
	case node.GetDeleteStmt() != nil:
		if _, err := p.PlanDelete(node.GetDeleteStmt().GetRelation().GetRelname(), node.GetDeleteStmt().GetWhereClause()); err != nil {
			return nil, err
		}
	case node.GetExplainStmt() != nil:
		if sel := node.GetExplainStmt().GetQuery().GetSelectStmt(); sel != nil { // its parameters
			sel, err := positionalArgs(sel)
			if err != nil {
				return nil, err
			}
			if _, err := p.PlanSelect(sel); err != nil {
				return nil, err
			}
		}
		d.Columns = []ColumnDescription{{Name: "QUERY PLAN", Type: functions.TText.Name()}}
	}
	for _, t := range p.ParamTypes {
		if t == functions.TUnknown {
			t = functions.TText
		}
		d.Params = append(d.Params, t.Name())
	}
	return d, nil
}

// describeInsert types the parameters of INSERT … VALUES by their columns.
func (db *DB) describeInsert(tenant string, p *planner.Planner, st *pg.InsertStmt) error {
	tbl, err := db.eng.Table(tenant, st.GetRelation().GetRelname())
	if err != nil {
		return err
	}
	cols := tbl.Columns()
	if len(st.GetCols()) > 0 {
		byName := map[string]arrowstore.Column{}
		for _, c := range cols {
			byName[c.Name] = c
		}
		cols = cols[:0:0]
		for _, c := range st.GetCols() {
			col, ok := byName[c.GetResTarget().GetName()]
			if !ok {
				return errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q does not exist", c.GetResTarget().GetName())
			}
			cols = append(cols, col)
		}
	}
	for _, l := range st.GetSelectStmt().GetSelectStmt().GetValuesLists() {
		for i, it := range l.GetList().GetItems() {
			e, err := p.ConstExpr(it)
			if err != nil {
				return err
			}
			if i < len(cols) {
				if _, err := planner.Coerce(e, sqlType(cols[i])); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// parseOne parses a query that must hold exactly one statement.
func (db *DB) parseOne(query, verb string) (*pg.Node, error) {
	stmts, err := db.parser.Parse(query)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "a call %s exactly one statement; got %d", verb, len(stmts))
	}
	return stmts[0].Node, nil
}
