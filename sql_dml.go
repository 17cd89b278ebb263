package ugnos

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// columnType maps a CREATE TABLE column type to a column: text is a tag;
// varchar (character varying) is a text field; numbers and booleans are
// fields.
func columnType(name string, tn *pg.TypeName) (arrowstore.Column, error) {
	names := tn.GetNames()
	typ := strings.ToLower(names[len(names)-1].GetString_().GetSval())
	c := arrowstore.Column{Name: name, Kind: arrowstore.KindField}
	switch typ {
	case "text":
		c.Kind = arrowstore.KindTag
	case "varchar", "bpchar":
		c.Type = arrowstore.TypeString
	case "int8", "int4", "int2", "bigint", "integer", "smallint":
		c.Type = arrowstore.TypeInt
	case "float8", "float4", "numeric", "real", "double precision":
		c.Type = arrowstore.TypeFloat
	case "bool", "boolean":
		c.Type = arrowstore.TypeBool
	default:
		return c, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "column %q: type %s is not supported (use timestamptz for time, text for tags, double precision, bigint, boolean or varchar for fields)", name, typ)
	}
	if len(tn.GetArrayBounds()) > 0 {
		return c, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "column %q: array types are not supported", name)
	}
	return c, nil
}

func (db *DB) createTable(tenant string, cs *pg.CreateStmt) (*Result, error) {
	rv := cs.GetRelation()
	if rv.GetSchemaname() != "" && rv.GetSchemaname() != "public" {
		return nil, errs.New(errs.ErrNotFound, "3F000", "schema %q does not exist", rv.GetSchemaname())
	}
	if len(cs.GetInhRelations()) > 0 || cs.GetPartspec() != nil || cs.GetOfTypename() != nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "CREATE TABLE with INHERITS, PARTITION BY or OF is not supported")
	}
	if err := db.caggs.nameFree(tenant, rv.GetRelname()); err != nil {
		if cs.GetIfNotExists() {
			return &Result{Tag: "CREATE TABLE"}, nil
		}
		return nil, err
	}
	var cols []arrowstore.Column
	hasTime := false
	for _, el := range cs.GetTableElts() {
		cd := el.GetColumnDef()
		if cd == nil {
			if el.GetConstraint() != nil {
				continue // table constraints (PRIMARY KEY ...) are accepted and not enforced
			}
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "CREATE TABLE element %s is not supported", nodeTypeName(el))
		}
		if cd.GetColname() == arrowstore.TimeColumn {
			names := cd.GetTypeName().GetNames()
			typ := names[len(names)-1].GetString_().GetSval()
			if typ != "timestamptz" && typ != "timestamp" {
				return nil, errs.New(errs.ErrInvalidInput, errs.CodeDatatypeMismatch, "column \"time\" must be of type timestamptz, not %s", typ)
			}
			hasTime = true
			continue
		}
		c, err := columnType(cd.GetColname(), cd.GetTypeName())
		if err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	if !hasTime {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "a table needs a column \"time\" of type timestamptz")
	}
	return &Result{Tag: "CREATE TABLE"}, db.eng.CreateTable(tenant, rv.GetRelname(), cols, cs.GetIfNotExists())
}

func (db *DB) dropStmt(tenant string, ds *pg.DropStmt) (*Result, error) {
	switch ds.GetRemoveType() {
	case pg.ObjectType_OBJECT_TABLE:
	case pg.ObjectType_OBJECT_VIEW:
		for _, o := range ds.GetObjects() {
			items := o.GetList().GetItems()
			if err := db.eng.DropView(tenant, items[len(items)-1].GetString_().GetSval(), ds.GetMissingOk()); err != nil {
				return nil, err
			}
		}
		return &Result{Tag: "DROP VIEW"}, nil
	case pg.ObjectType_OBJECT_MATVIEW:
		return db.dropMatViews(tenant, ds)
	default:
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "DROP %s is not supported", strings.TrimPrefix(ds.GetRemoveType().String(), "OBJECT_"))
	}
	for _, o := range ds.GetObjects() {
		items := o.GetList().GetItems()
		if len(items) == 0 {
			continue
		}
		name := items[len(items)-1].GetString_().GetSval()
		if err := db.checkDropTable(tenant, name, ds.GetBehavior() == pg.DropBehavior_DROP_CASCADE); err != nil {
			return nil, err
		}
		if err := db.eng.DropTable(tenant, name, ds.GetMissingOk()); err != nil {
			return nil, err
		}
	}
	return &Result{Tag: "DROP TABLE"}, nil
}

// TargetColumns picks the columns an INSERT or COPY column list names, in
// its order (all of them for an empty list); an unknown or repeated name
// is an error, as in PostgreSQL.
func TargetColumns(all []arrowstore.Column, table string, names []string) ([]arrowstore.Column, error) {
	if len(names) == 0 {
		return all, nil
	}
	byName := map[string]arrowstore.Column{}
	for _, c := range all {
		byName[c.Name] = c
	}
	seen := map[string]bool{}
	var target []arrowstore.Column
	for _, name := range names {
		col, ok := byName[name]
		if !ok {
			return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedColumn, "column %q of relation %q does not exist", name, table)
		}
		if seen[name] {
			return nil, errs.New(errs.ErrInvalidInput, "42701", "column %q specified more than once", name)
		}
		seen[name] = true
		target = append(target, col)
	}
	return target, nil
}

// insert runs INSERT … VALUES and INSERT … SELECT.
func (db *DB) insert(ctx context.Context, tenant string, p *planner.Planner, st *pg.InsertStmt) (*Result, error) {
	if st.GetOnConflictClause() != nil || len(st.GetReturningList()) > 0 || st.GetWithClause() != nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "INSERT with ON CONFLICT, RETURNING or WITH is not supported")
	}
	table := st.GetRelation().GetRelname()
	tbl, err := db.eng.Table(tenant, table)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, c := range st.GetCols() {
		names = append(names, c.GetResTarget().GetName())
	}
	target, err := TargetColumns(tbl.Columns(), table, names)
	if err != nil {
		return nil, err
	}
	sel := st.GetSelectStmt().GetSelectStmt()
	if sel == nil {
		// INSERT ... DEFAULT VALUES
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "null value in column \"time\" violates not-null constraint")
	}
	var rows [][]any
	if vl := sel.GetValuesLists(); len(vl) > 0 {
		for _, l := range vl {
			items := l.GetList().GetItems()
			if len(items) != len(target) {
				return nil, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "INSERT has %d expressions but %d target columns", len(items), len(target))
			}
			row := make([]any, len(target))
			for i, it := range items {
				if it.GetSetToDefault() != nil {
					continue // DEFAULT: NULL
				}
				e, err := p.ConstExpr(it)
				if err != nil {
					return nil, err
				}
				if e, err = planner.Coerce(e, sqlType(target[i])); err != nil {
					return nil, err
				}
				row[i] = e.(*planner.Const).V
			}
			rows = append(rows, row)
		}
		n, err := db.writeRows(ctx, tenant, table, target, rows)
		return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n), RowsAffected: n}, err
	}
	plan, err := p.PlanSelect(sel)
	if err != nil {
		return nil, err
	}
	if len(plan.Columns()) != len(target) {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "INSERT has %d expressions but %d target columns", len(plan.Columns()), len(target))
	}
	pgs := p.Cat.(catalog).session()
	op, err := exec.Build(plan, exec.Env{
		Table: pgs.table,
		Reg:   pgs.reg,
	})
	if err != nil {
		return nil, err
	}
	defer op.Close()
	recs, err := exec.Drain(ctx, op)
	if err != nil {
		return nil, err
	}
	types := plan.Columns()
	for _, rec := range recs {
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]any, len(target))
			for c := range target {
				v := functions.ArrVec(rec.Column(c), types[c].T)
				k := &planner.Const{V: v.Value(i), T: types[c].T}
				e, err := planner.Coerce(k, sqlType(target[c]))
				if err != nil {
					return nil, err
				}
				row[c] = e.(*planner.Const).V
			}
			rows = append(rows, row)
		}
		rec.Release()
	}
	n, err := db.writeRows(ctx, tenant, table, target, rows)
	return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n), RowsAffected: n}, err
}

// ColumnType is the SQL type of a stored column: timestamptz for time,
// text for tags, the field's type otherwise.
func ColumnType(c arrowstore.Column) functions.Type { return sqlType(c) }

func sqlType(c arrowstore.Column) functions.Type {
	switch c.Kind {
	case arrowstore.KindTime:
		return functions.TTimestamp
	case arrowstore.KindTag:
		return functions.TText
	}
	switch c.Type {
	case arrowstore.TypeFloat:
		return functions.TFloat
	case arrowstore.TypeInt:
		return functions.TInt
	case arrowstore.TypeBool:
		return functions.TBool
	}
	return functions.TText
}

// writeRows writes rows of Go values (in the representation of the
// columns' SQL types) as one record.
func (db *DB) writeRows(ctx context.Context, tenant, table string, cols []arrowstore.Column, rows [][]any) (int64, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	hasTime := false
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for c, col := range cols {
		vals := make([]any, len(rows))
		for r, row := range rows {
			vals[r] = row[c]
		}
		t := sqlType(col)
		if col.Kind == arrowstore.KindTime {
			hasTime = true
			for r, v := range vals {
				if v == nil {
					return 0, errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "null value in column \"time\" violates not-null constraint (row %d)", r+1)
				}
			}
		}
		arrs[c] = functions.NewOf(t, vals)
		fields[c] = arrow.Field{Name: col.Name, Type: t.Arrow(), Nullable: true,
			Metadata: arrow.NewMetadata([]string{arrowstore.MetaKind}, []string{col.Kind.String()})}
	}
	if !hasTime {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeNullNotAllowed, "null value in column \"time\" violates not-null constraint")
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, int64(len(rows)))
	for _, a := range arrs {
		a.Release()
	}
	defer rec.Release()
	if err := db.admitIngest(ctx, tenant, len(rows)); err != nil {
		return 0, err
	}
	start := time.Now()
	err := db.eng.Write(ctx, tenant, table, rec)
	db.writes.done(tenant, start, rec.NumRows(), recordBytes(rec), err)
	if err != nil {
		return 0, err
	}
	return int64(len(rows)), nil
}

func (db *DB) deleteStmt(ctx context.Context, tenant string, p *planner.Planner, st *pg.DeleteStmt) (*Result, error) {
	if len(st.GetUsingClause()) > 0 || len(st.GetReturningList()) > 0 || st.GetWithClause() != nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "DELETE with USING, RETURNING or WITH is not supported")
	}
	table := st.GetRelation().GetRelname()
	spec, err := p.PlanDelete(table, st.GetWhereClause())
	if err != nil {
		return nil, err
	}
	if spec.Empty {
		return &Result{Tag: "DELETE 0"}, nil
	}
	tbl, err := db.eng.Table(tenant, table)
	if err != nil {
		return nil, err
	}
	fs, err := exec.StorageFilters(tbl, spec.Tags)
	if err != nil {
		return nil, err
	}
	n, err := db.eng.Delete(ctx, tenant, table, spec.MinT, spec.MaxT, fs)
	if err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("DELETE %d", n), RowsAffected: int64(n)}, nil
}

func (db *DB) createView(tenant string, p *planner.Planner, vs *pg.ViewStmt) (*Result, error) {
	if err := db.caggs.nameFree(tenant, vs.GetView().GetRelname()); err != nil {
		return nil, err
	}
	if len(vs.GetAliases()) > 0 || len(vs.GetOptions()) > 0 || vs.GetWithCheckOption() != pg.ViewCheckOption_NO_CHECK_OPTION {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "CREATE VIEW with column names, options or CHECK OPTION is not supported")
	}
	sel := vs.GetQuery().GetSelectStmt()
	if sel == nil {
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "this view query is not supported")
	}
	if _, err := p.PlanSelect(sel); err != nil { // refuse a view that cannot run
		return nil, err
	}
	text, err := pg.Deparse(&pg.ParseResult{Version: parseTreeVersion(), Stmts: []*pg.RawStmt{{Stmt: vs.GetQuery()}}})
	if err != nil {
		return nil, errs.Wrap(errs.ErrInternal, errs.CodeInternal, err, "store view")
	}
	return &Result{Tag: "CREATE VIEW"}, db.eng.CreateView(tenant, vs.GetView().GetRelname(), text, vs.GetReplace())
}

// parseTreeVersion is the parse-tree version pg_query stamps on its
// results (Deparse checks it).
var parseTreeVersion = sync.OnceValue(func() int32 {
	r, err := pg.Parse("SELECT 1")
	if err != nil {
		return 0
	}
	return r.GetVersion()
})

// alterTable runs ALTER TABLE ... ADD COLUMN (the only alteration ugnos
// supports: columns are never rewritten).
func (db *DB) alterTable(tenant string, st *pg.AlterTableStmt) (*Result, error) {
	var cols []arrowstore.Column
	ifNotExists := false
	for _, c := range st.GetCmds() {
		cmd := c.GetAlterTableCmd()
		if cmd.GetSubtype() != pg.AlterTableType_AT_AddColumn {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "ALTER TABLE %s is not supported (only ADD COLUMN)", strings.TrimPrefix(cmd.GetSubtype().String(), "AT_"))
		}
		cd := cmd.GetDef().GetColumnDef()
		if cd.GetColname() == arrowstore.TimeColumn {
			return nil, errs.New(errs.ErrInvalidInput, "42701", "column \"time\" already exists")
		}
		col, err := columnType(cd.GetColname(), cd.GetTypeName())
		if err != nil {
			return nil, err
		}
		cols = append(cols, col)
		ifNotExists = ifNotExists || cmd.GetMissingOk()
	}
	return &Result{Tag: "ALTER TABLE"}, db.eng.AddColumns(tenant, st.GetRelation().GetRelname(), cols, ifNotExists)
}
