package ugnos

import (
	"strings"
	"time"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// Retention policies over SQL, in TimescaleDB's form:
//
//	SELECT add_retention_policy('cpu', INTERVAL '90 days');              -- job id
//	SELECT add_retention_policy('cpu', INTERVAL '90 days', if_not_exists => true);
//	SELECT remove_retention_policy('cpu', if_exists => true);
//
// They act on DB.SetRetention for the statement's database (tenant). The
// job id is stable per table: retentionJobBase plus the table's engine id
// (never reused). Policies are listed in ugnos.retention_policies.

// retentionJobBase is where job ids start (TimescaleDB's first user job
// is 1000).
const retentionJobBase = 1000

// namedArgOrder is the parameter list of functions that accept named
// arguments (name => value); see positionalArgs.
var namedArgOrder = map[string][]string{
	"add_retention_policy":    {"relation", "drop_after", "if_not_exists"},
	"remove_retention_policy": {"relation", "if_exists"},
}

// positionalArgs rewrites named arguments of the functions in
// namedArgOrder that appear in a SELECT's target list into positional
// ones, so that the planner (which has no named arguments) binds them.
// Missing optional arguments between given ones become their defaults
// (false). The parse tree may be shared (the parser caches it): a
// statement that needs rewriting is cloned first.
func positionalArgs(sel *pg.SelectStmt) (*pg.SelectStmt, error) {
	if sel == nil || !hasNamedArgs(sel) {
		return sel, nil
	}
	sel = proto.Clone(sel).(*pg.SelectStmt)
	for _, t := range sel.GetTargetList() {
		fc := t.GetResTarget().GetVal().GetFuncCall()
		if fc == nil || len(fc.GetFuncname()) == 0 {
			continue
		}
		name := fc.GetFuncname()[len(fc.GetFuncname())-1].GetString_().GetSval()
		order, ok := namedArgOrder[name]
		if !ok {
			continue
		}
		named := false
		for _, a := range fc.GetArgs() {
			named = named || a.GetNamedArgExpr() != nil
		}
		if !named {
			continue
		}
		out := make([]*pg.Node, len(order))
		last := -1
		for i, a := range fc.GetArgs() {
			pos := i
			arg := a
			if na := a.GetNamedArgExpr(); na != nil {
				pos = -1
				for k, p := range order {
					if p == na.GetName() {
						pos = k
					}
				}
				if pos < 0 {
					return nil, errs.New(errs.ErrNotFound, "42883", "function %s has no parameter named %q", name, na.GetName())
				}
				arg = na.GetArg()
			}
			if pos >= len(order) {
				return nil, errs.New(errs.ErrNotFound, "42883", "function %s takes at most %d arguments", name, len(order))
			}
			if out[pos] != nil {
				return nil, errs.New(errs.ErrInvalidInput, "42601", "argument %q of %s is given more than once", order[pos], name)
			}
			out[pos] = arg
			last = max(last, pos)
		}
		args := out[:last+1]
		for i, a := range args {
			if a == nil {
				if i < 2 && name == "add_retention_policy" || i < 1 {
					return nil, errs.New(errs.ErrNotFound, "42883", "function %s requires argument %q", name, order[i])
				}
				args[i] = &pg.Node{Node: &pg.Node_AConst{AConst: &pg.A_Const{Val: &pg.A_Const_Boolval{Boolval: &pg.Boolean{}}, Location: -1}}}
			}
		}
		fc.Args = args
	}
	return sel, nil
}

func hasNamedArgs(sel *pg.SelectStmt) bool {
	for _, t := range sel.GetTargetList() {
		fc := t.GetResTarget().GetVal().GetFuncCall()
		for _, a := range fc.GetArgs() {
			if a.GetNamedArgExpr() != nil {
				return true
			}
		}
	}
	return false
}

// intervalDuration converts an interval to a duration the way
// TimescaleDB does for drop_after: a month is 30 days, a day 24 hours.
func intervalDuration(iv functions.Interval) time.Duration {
	return time.Duration(iv.Months)*30*24*time.Hour + time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Nanos)
}

// retentionFunctions are add_retention_policy and remove_retention_policy
// for the statement's tenant.
func (s *pgSession) retentionFunctions() []*functions.Scalar {
	return []*functions.Scalar{
		{Name: "add_retention_policy", Volatile: true, Resolve: s.resolveAddRetention},
		{Name: "remove_retention_policy", Volatile: true, Resolve: s.resolveRemoveRetention},
	}
}

func noSuchFunction(name string, a []functions.Type) error {
	ts := make([]string, len(a))
	for i, t := range a {
		ts[i] = t.Name()
	}
	return errs.New(errs.ErrNotFound, "42883", "function %s(%s) does not exist", name, strings.Join(ts, ", "))
}

func isText(t functions.Type) bool { return t == functions.TText || t == functions.TUnknown }

func (s *pgSession) resolveAddRetention(a []functions.Type) (functions.Type, functions.Kernel, error) {
	if err := s.db.authorizeSuperuser(s.client, "add_retention_policy"); err != nil {
		return 0, nil, err
	}
	if len(a) < 2 || len(a) > 3 || !isText(a[0]) || a[1] != functions.TInterval || len(a) == 3 && a[2] != functions.TBool {
		return 0, nil, noSuchFunction("add_retention_policy", a)
	}
	return functions.TInt, volatileKernel(functions.TInt, func(args []any) (any, error) {
		ifNotExists := len(args) == 3 && args[2].(bool)
		return s.db.addRetentionPolicy(s.tenant, args[0].(string), intervalDuration(args[1].(functions.Interval)), ifNotExists)
	}), nil
}

func (s *pgSession) resolveRemoveRetention(a []functions.Type) (functions.Type, functions.Kernel, error) {
	if err := s.db.authorizeSuperuser(s.client, "remove_retention_policy"); err != nil {
		return 0, nil, err
	}
	if len(a) < 1 || len(a) > 2 || !isText(a[0]) || len(a) == 2 && a[1] != functions.TBool {
		return 0, nil, noSuchFunction("remove_retention_policy", a)
	}
	return functions.TText, volatileKernel(functions.TText, func(args []any) (any, error) {
		ifExists := len(args) == 2 && args[1].(bool)
		return "", s.db.removeRetentionPolicy(s.tenant, args[0].(string), ifExists)
	}), nil
}

// volatileKernel runs f once per row; a NULL argument gives NULL (strict).
func volatileKernel(t functions.Type, f func(args []any) (any, error)) functions.Kernel {
	return func(args []functions.Vec, n int) (functions.Vec, error) {
		vals := make([]any, n)
	rows:
		for i := range vals {
			in := make([]any, len(args))
			for k, v := range args {
				if v.IsNull(i) {
					continue rows
				}
				in[k] = v.Value(i)
			}
			out, err := f(in)
			if err != nil {
				return functions.Vec{}, err
			}
			vals[i] = out
		}
		return functions.ArrVec(functions.NewOf(t, vals), t), nil
	}
}

// relationName strips a "public." qualifier and unquotes a relation name
// given as text ('cpu', 'public.cpu', '"Cpu"').
func relationName(s string) string {
	s = strings.TrimPrefix(s, "public.")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}

func (db *DB) retentionJobID(tenant, table string) (int64, error) {
	id, ok := db.eng.TableID(tenant, table)
	if !ok {
		return 0, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation %q does not exist", table)
	}
	return retentionJobBase + int64(id), nil
}

// retentionTable is the table a retention policy on rel governs: a
// continuous aggregate's is its materialization's.
func (db *DB) retentionTable(tenant, rel string) string {
	if c := db.caggs.get(tenant, rel); c != nil {
		return c.def.Mat
	}
	return rel
}

// addRetentionPolicy sets a table's own retention period and returns its
// job id.
func (db *DB) addRetentionPolicy(tenant, rel string, dropAfter time.Duration, ifNotExists bool) (int64, error) {
	table := db.retentionTable(tenant, relationName(rel))
	own, err := db.eng.OwnRetention(tenant, table)
	if err != nil {
		return 0, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation %q does not exist", rel)
	}
	job, err := db.retentionJobID(tenant, table)
	if err != nil {
		return 0, err
	}
	if dropAfter <= 0 {
		return 0, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "drop_after interval must be positive")
	}
	if own > 0 {
		if ifNotExists {
			return job, nil // TimescaleDB: NOTICE "retention policy already exists … skipping"
		}
		return 0, errs.New(errs.ErrInvalidInput, "42710", "retention policy already exists for hypertable %q", table)
	}
	if err := db.eng.SetRetention(tenant, table, dropAfter); err != nil {
		return 0, err
	}
	return job, nil
}

// removeRetentionPolicy removes a table's own retention period.
func (db *DB) removeRetentionPolicy(tenant, rel string, ifExists bool) error {
	table := db.retentionTable(tenant, relationName(rel))
	own, err := db.eng.OwnRetention(tenant, table)
	if err != nil {
		return errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation %q does not exist", rel)
	}
	if own <= 0 {
		if ifExists {
			return nil
		}
		return errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "retention policy not found for hypertable %q", table)
	}
	return db.eng.SetRetention(tenant, table, 0)
}
