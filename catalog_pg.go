package ugnos

import (
	"context"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
	"github.com/ugnos/ugnos/pgcatalog"
	"github.com/ugnos/ugnos/planner"
)

// ServerVersion is what version() returns: PostgreSQL 15's form, which
// drivers parse for the major version.
var ServerVersion = "PostgreSQL 15.0 (ugnos) on " + runtime.GOARCH + "-" + runtime.GOOS + ", compiled by " + runtime.Version() + ", 64-bit"

// pgSession is a statement's view of the system catalogs: the snapshot of
// the tenant's live catalog is taken when a system relation or a catalog
// function first needs it, and then kept for the statement.
type pgSession struct {
	db     *DB
	tenant string
	client *Session        // nil: the embedded process
	ctx    context.Context // the statement's, for administrative functions; nil: Background
	once   sync.Once
	snap   *pgcatalog.Snapshot
	reg    *functions.Registry
	held   []*cagg // continuous aggregates read (their locks, until the scans are open)
	// granted are tables read on behalf of a view the session may read
	// (a continuous aggregate's materialization and source)
	granted []string
}

func newPGSession(db *DB, tenant string, client *Session) *pgSession {
	s := &pgSession{db: db, tenant: tenant, client: client}
	fns := append(append(pgcatalog.Functions(s.snapshot), s.adminFunctions()...), s.tokenFunctions()...)
	fns = append(fns, s.retentionFunctions()...)
	fns = append(fns, s.ruleFunctions()...)
	s.reg = db.reg.With(fns...)
	return s
}

func (s *pgSession) context() context.Context {
	if s.ctx == nil {
		return context.Background()
	}
	return s.ctx
}

// snapshot builds the plain-data catalog of the tenant: databases, tables
// (OIDs from engine table ids), views (columns from planning them) and the
// registry's functions; for an ordinary role only what it may see
// (grants.go: catalogFilter).
func (s *pgSession) snapshot() *pgcatalog.Snapshot {
	s.once.Do(func() {
		db := s.db
		f := db.catalogFilter(s.client)
		snap := &pgcatalog.Snapshot{Database: s.tenant, User: "ugnos",
			Version: ServerVersion, StartTime: db.eng.Started().UnixNano(), BackendPID: int64(os.Getpid())}
		for _, d := range db.eng.Tenants() {
			if f.database(d) {
				snap.Databases = append(snap.Databases, d)
			}
		}
		for _, r := range db.Roles() {
			if f.roleName(r.Name) {
				snap.Roles = append(snap.Roles, pgcatalog.Role{Name: r.Name, Superuser: r.Superuser, Login: r.Login})
			}
		}
		if f != nil && f.token != "" { // the session user is the token, no superuser (as a user that is no role would show)
			snap.Roles = append(snap.Roles, pgcatalog.Role{Name: s.client.User, Login: true})
		}
		if c := s.client; c != nil {
			if c.User != "" {
				snap.User = c.User
			}
			if c.PID != 0 {
				snap.BackendPID = c.PID
			}
			if c.Version != "" {
				snap.Version = "PostgreSQL " + c.Version + " on " + runtime.GOARCH + "-" + runtime.GOOS + ", compiled by " + runtime.Version() + ", 64-bit"
			}
			snap.Setting = c.Setting
		}
		names, _ := db.eng.Tables(s.tenant)
		for _, name := range names {
			if !f.table(s.tenant, name) {
				continue
			}
			t, err := db.eng.Table(s.tenant, name)
			id, ok := db.eng.TableID(s.tenant, name)
			if err != nil || !ok {
				continue
			}
			pt := pgcatalog.Table{OID: pgcatalog.TableOID(id), Name: name}
			for _, c := range t.Columns() {
				pc := pgcatalog.Column{Name: c.Name, Kind: c.Kind.String(), NotNull: c.Kind == arrowstore.KindTime}
				switch c.Kind {
				case arrowstore.KindTime:
					pc.Type = "timestamptz"
				case arrowstore.KindTag:
					pc.Type = "text"
				default:
					pc.Type = pgcatalog.SQLTypeName(sqlType(c))
				}
				pt.Columns = append(pt.Columns, pc)
			}
			snap.Tables = append(snap.Tables, pt)
		}
		for _, name := range db.eng.Views(s.tenant) {
			if !f.table(s.tenant, name) {
				continue
			}
			q, _ := db.eng.View(s.tenant, name)
			v := pgcatalog.View{OID: pgcatalog.ViewOID(name), Name: name, Definition: q}
			if cols, err := s.viewColumns(name); err == nil {
				v.Columns = cols
			}
			snap.Views = append(snap.Views, v)
		}
		for _, c := range db.caggs.list(s.tenant) {
			if !f.table(s.tenant, c.def.Name) {
				continue
			}
			v := pgcatalog.View{OID: pgcatalog.ViewOID(c.def.Name), Name: c.def.Name, Definition: c.def.Query, Materialized: true}
			if cols, err := s.viewColumns(c.def.Name); err == nil {
				v.Columns = cols
			}
			snap.Views = append(snap.Views, v)
		}
		snap.Privilege = s.privilege
		for _, name := range db.reg.Names() {
			kind := "f"
			if _, ok := db.reg.Aggregate(name); ok {
				kind = "a"
			}
			if strings.HasPrefix(name, "ugnos_") || internalFuncs[name] || !isIdentifier(name) {
				continue // operators and internal helpers
			}
			snap.Functions = append(snap.Functions, pgcatalog.Function{Name: name, Kind: kind})
		}
		s.snap = snap
	})
	return s.snap
}

// privilege answers has_table_privilege and has_database_privilege for
// user ("": the session's) from the grants (grants.go).
func (s *pgSession) privilege(user, kind, name, priv string) bool {
	client := s.client
	if user != "" {
		client = &Session{User: user}
	}
	switch {
	case kind == "database" && priv == "connect":
		return client == nil || s.db.mayConnect(client, name) == nil
	case kind == "table" && (priv == PrivSelect || priv == PrivInsert || priv == PrivDelete):
		return s.db.authorizeTable(client, s.tenant, name, priv) == nil
	case kind == "table" && priv == "truncate":
		return s.db.authorizeTable(client, s.tenant, name, PrivDelete) == nil
	}
	return s.db.authorizeSuperuser(client, "") == nil // UPDATE, CREATE, TEMPORARY, …
}

// internalFuncs are registry entries that implement operators and
// predicates, not callable functions.
var internalFuncs = map[string]bool{"and": true, "or": true, "not": true, "neg": true, "in": true,
	"is_null": true, "is_not_null": true, "is_distinct_from": true, "is_not_distinct_from": true}

func isIdentifier(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// viewColumns plans a view to learn its columns.
func (s *pgSession) viewColumns(name string) ([]pgcatalog.Column, error) {
	p := &planner.Planner{Cat: catalog{db: s.db, tenant: s.tenant, pg: s}, Reg: s.reg, InferParams: true}
	stmts, err := s.db.parser.Parse("SELECT * FROM public." + pgcatalog.QuoteIdent(name))
	if err != nil {
		return nil, err
	}
	held := len(s.held)
	plan, err := p.PlanSelect(stmts[0].Node.GetSelectStmt())
	s.releaseCaggsFrom(held) // only planned (this may run after the statement's release)
	if err != nil {
		return nil, err
	}
	var out []pgcatalog.Column
	for _, c := range plan.Columns() {
		typ := c.PGType
		if typ == "" {
			typ = pgcatalog.SQLTypeName(c.T)
		}
		out = append(out, pgcatalog.Column{Name: c.Name, Type: typ})
	}
	return out, nil
}

// System implements planner.SystemCatalog.
func (c catalog) System(schema, name string) ([]planner.ScanColumn, bool) {
	if schema == "ugnos" {
		cols, ok := ugnosRelations[name]
		return cols, ok
	}
	cols, ok := pgcatalog.Relation(schema, name)
	if !ok {
		return nil, false
	}
	out := make([]planner.ScanColumn, len(cols))
	for i, col := range cols {
		out[i] = planner.ScanColumn{Name: col.Name, Kind: planner.KindField, T: col.T, PGType: col.PGType}
	}
	return out, true
}

// RelationOID implements planner.SystemCatalog.
func (c catalog) RelationOID(schema, name string) (int64, bool) {
	return c.session().snapshot().RelationOID(schema, name)
}

func (c catalog) session() *pgSession {
	if c.pg == nil {
		return newPGSession(c.db, c.tenant, nil)
	}
	return c.pg
}

// table opens a table of the statement's tenant for exec: a stored table,
// or a system relation ("pg_catalog.pg_class").
func (s *pgSession) table(name string) (arrowstore.Table, error) {
	if schema, rel, ok := strings.Cut(name, "."); ok && (schema == "pg_catalog" || schema == "information_schema") {
		return &systemTable{s: s, schema: schema, name: rel}, nil
	} else if ok && schema == "ugnos" {
		return &ugnosTable{db: s.db, tenant: s.tenant, name: rel, client: s.client}, nil
	}
	return s.db.eng.Table(s.tenant, name)
}

// systemTable is a system relation behind the scan contract: each scan
// builds the relation's rows from the statement's snapshot.
type systemTable struct {
	s            *pgSession
	schema, name string
}

func (t *systemTable) Name() string                                           { return t.schema + "." + t.name }
func (t *systemTable) Columns() []arrowstore.Column                           { return nil }
func (t *systemTable) HandledFilters([]arrowstore.Filter) []arrowstore.Filter { return nil }

func (t *systemTable) Schema() *arrow.Schema {
	cols, _ := pgcatalog.Relation(t.schema, t.name)
	fs := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fs[i] = pgcatalog.Field(c)
	}
	return arrow.NewSchema(fs, nil)
}

func (t *systemTable) Scan(ctx context.Context, req arrowstore.ScanRequest) (array.RecordReader, error) {
	if len(req.Filters) > 0 {
		return nil, errs.New(errs.ErrInternal, errs.CodeInternal, "BUG: tag filters on system relation %s", t.Name())
	}
	cols := req.Columns
	if cols == nil {
		cols = []string{}
		for _, f := range t.Schema().Fields() {
			cols = append(cols, f.Name)
		}
	}
	rec, err := pgcatalog.Build(t.s.snapshot(), t.schema, t.name, cols)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	return array.NewRecordReader(rec.Schema(), []arrow.RecordBatch{rec})
}
