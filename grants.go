package ugnos

import (
	"context"
	"fmt"
	"slices"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
)

// Privileges of roles on databases (tenants) and their tables, in
// PostgreSQL's syntax:
//
//	GRANT CONNECT ON DATABASE acme TO ann;
//	GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO ann;  -- this database's tables, now and later
//	GRANT SELECT ON cpu TO ann;  REVOKE DELETE ON cpu FROM ann;
//
// They bind ordinary (non-superuser) roles only: superuser roles, the
// server's own accounts and the embedded API may do everything. Unlike
// PostgreSQL, a role may connect to no database until granted CONNECT
// (there is no PUBLIC default: tenants are isolated). Checked: CONNECT at
// login; SELECT on every table and view a statement reads (through the
// planner's catalog); INSERT for INSERT and COPY FROM; DELETE for DELETE
// and TRUNCATE; everything else that changes the database (DDL,
// CHECKPOINT, snapshots, rules, retention, roles) needs a superuser.
// Privileges live with the roles in roles.json.

// Privilege names.
const (
	PrivConnect = "connect"
	PrivSelect  = "select"
	PrivInsert  = "insert"
	PrivDelete  = "delete"
)

// TenantGrants are a role's privileges in one database.
type TenantGrants struct {
	Connect bool                `json:"connect,omitempty"`
	All     []string            `json:"all,omitempty"`    // on all tables
	Tables  map[string][]string `json:"tables,omitempty"` // per table
}

// ordinaryRole returns the session's role when it is bound by grants.
func (db *DB) ordinaryRole(client *Session) (Role, bool) {
	if client == nil {
		return Role{}, false
	}
	if client.Token != "" {
		return db.tokenRole(client.Token), true
	}
	r, ok := db.Role(client.User)
	if !ok && client.owned {
		return Role{Name: client.User}, true // a dropped owner: no privileges
	}
	if !ok || r.Superuser {
		return Role{}, false
	}
	return r, true
}

// Owners. A continuous aggregate or rule records the role that created
// it, and its refreshes or evaluations run with that role's rights, as a
// session of it would (REVOKE, ALTER ROLE … NOSUPERUSER or DROP ROLE make
// them fail with 42501). Created by the embedded API or by one of the
// server's own accounts (a session user that is no role), it has no
// owner and runs unrestricted, as they do.

// ownerOf is the role recorded as owner of what a session creates. An
// API token's session gets its user name, which is no role: no rights
// (rules record a token owner themselves; continuous aggregates need a
// superuser).
func (db *DB) ownerOf(client *Session) string {
	if client == nil {
		return ""
	}
	if _, ok := db.Role(client.User); !ok && client.Token == "" {
		return ""
	}
	return client.User
}

// asOwner returns ctx with the session background work of owner runs
// under ("": none, unrestricted).
func asOwner(ctx context.Context, owner string) context.Context {
	return WithSession(ctx, ownerSession(owner))
}

// ownerSession is the session of owner's background work (nil for "").
func ownerSession(owner string) *Session {
	if owner == "" {
		return nil
	}
	return &Session{User: owner, owned: true}
}

// tokenOwnerSession is the session of background work an API token owns
// (a rule created over HTTP): the token's privileges, none once revoked.
func tokenOwnerSession(token string) *Session {
	return &Session{User: "token:" + token, Token: token, owned: true}
}

// Catalogs show an ordinary role only what it may see: the databases it
// may connect to, the tables and views it holds some privilege on (and
// what is defined on them), and its own role. PostgreSQL shows every
// object to everyone; ugnos hides them, since databases are tenants.
// Reading a hidden table by name is still 42501, as for any table
// without SELECT.

// catalogFilter is what an ordinary role sees; nil (superusers, the
// server's own accounts, the embedded API): everything.
type catalogFilter struct {
	role  Role
	token string // the API token whose privileges these are; "": a role's
}

func (db *DB) catalogFilter(client *Session) *catalogFilter {
	r, ok := db.ordinaryRole(client)
	if !ok {
		return nil
	}
	return &catalogFilter{role: r, token: client.Token}
}

// owns: the session owns what owner (a role, or with token an API token)
// owns, or is a superuser's.
func (f *catalogFilter) owns(owner string, token bool) bool {
	if f == nil {
		return true
	}
	if token {
		return owner == f.token
	}
	return f.token == "" && owner != "" && owner == f.role.Name
}

// database: a database the role may connect to.
func (f *catalogFilter) database(name string) bool {
	if f == nil {
		return true
	}
	g := f.role.Grants[name]
	return g != nil && g.Connect
}

// table: a table or view of tenant the role holds some privilege on.
func (f *catalogFilter) table(tenant, name string) bool {
	if f == nil {
		return true
	}
	g := f.role.Grants[tenant]
	return g != nil && (len(g.All) > 0 || len(g.Tables[name]) > 0)
}

// roleName: the role itself.
func (f *catalogFilter) roleName(name string) bool {
	return f == nil || f.token == "" && name == f.role.Name
}

// MayConnect checks the CONNECT privilege of user on a database.
func (db *DB) MayConnect(user, tenant string) error {
	return db.mayConnect(&Session{User: user}, tenant)
}

func (db *DB) mayConnect(client *Session, tenant string) error {
	r, ok := db.ordinaryRole(client)
	if !ok || r.Grants[tenant] != nil && r.Grants[tenant].Connect {
		return nil
	}
	return errs.New(errs.ErrPermissionDenied, errs.CodeInsufficientPriv, "permission denied for database %s: %s does not have CONNECT privilege", tenant, principal(client))
}

// principal names the session's user or token in messages.
func principal(client *Session) string {
	if client.Token != "" {
		return fmt.Sprintf("token %q", client.Token)
	}
	return fmt.Sprintf("user %q", client.User)
}

// authorizeTable checks priv on a table (or view) of tenant.
func (db *DB) authorizeTable(client *Session, tenant, table, priv string) error {
	r, ok := db.ordinaryRole(client)
	if !ok {
		return nil
	}
	if g := r.Grants[tenant]; g != nil && (slices.Contains(g.All, priv) || slices.Contains(g.Tables[table], priv)) {
		return nil
	}
	return errs.New(errs.ErrPermissionDenied, errs.CodeInsufficientPriv, "permission denied for table %s", table)
}

// authorizeSuperuser checks that the session may change the database
// (what: the command, for the message).
func (db *DB) authorizeSuperuser(client *Session, what string) error {
	if _, ok := db.ordinaryRole(client); ok {
		return errs.New(errs.ErrPermissionDenied, errs.CodeInsufficientPriv, "permission denied: %s requires a superuser", what)
	}
	return nil
}

// grantStmt runs GRANT / REVOKE on databases and tables.
func (db *DB) grantStmt(client *Session, tenant string, st *pg.GrantStmt) (*Result, error) {
	if err := db.mayManageRoles(client); err != nil {
		return nil, err
	}
	tag := "GRANT"
	if !st.GetIsGrant() {
		tag = "REVOKE"
	}
	var privs []string
	for _, p := range st.GetPrivileges() {
		privs = append(privs, strings.ToLower(p.GetAccessPriv().GetPrivName()))
	}
	type target struct {
		tenant, table string // table "": the database (CONNECT) or, with all, every table
		all           bool
	}
	var targets []target
	switch {
	case st.GetObjtype() == pg.ObjectType_OBJECT_DATABASE:
		if privs == nil {
			privs = []string{PrivConnect}
		}
		for _, p := range privs {
			if p != PrivConnect {
				return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "privilege %s on a database is not supported (only CONNECT)", strings.ToUpper(p))
			}
		}
		for _, o := range st.GetObjects() {
			name := o.GetString_().GetSval()
			if !db.eng.HasTenant(name) {
				return nil, errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", name)
			}
			targets = append(targets, target{tenant: name})
		}
	case st.GetObjtype() == pg.ObjectType_OBJECT_TABLE:
		if privs == nil {
			privs = []string{PrivSelect, PrivInsert, PrivDelete}
		}
		for _, p := range privs {
			switch p {
			case PrivSelect, PrivInsert, PrivDelete:
			default:
				return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "privilege %s on tables is not supported (SELECT, INSERT, DELETE)", strings.ToUpper(p))
			}
		}
		if st.GetTargtype() == pg.GrantTargetType_ACL_TARGET_ALL_IN_SCHEMA {
			for _, o := range st.GetObjects() {
				if s := o.GetString_().GetSval(); s != "public" {
					return nil, errs.New(errs.ErrNotFound, "3F000", "schema %q does not exist", s)
				}
			}
			targets = append(targets, target{tenant: tenant, all: true})
			break
		}
		if st.GetTargtype() != pg.GrantTargetType_ACL_TARGET_OBJECT {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "ALTER DEFAULT PRIVILEGES is not supported")
		}
		for _, o := range st.GetObjects() {
			name := o.GetRangeVar().GetRelname()
			_, err := db.eng.Table(tenant, name)
			if err != nil && !hasView(db, tenant, name) && db.caggs.get(tenant, name) == nil {
				return nil, err
			}
			targets = append(targets, target{tenant: tenant, table: name})
		}
	default:
		return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "%s on %s is not supported", tag, strings.TrimPrefix(st.GetObjtype().String(), "OBJECT_"))
	}
	db.roles.mu.Lock()
	defer db.roles.mu.Unlock()
	var grantees []string
	for _, g := range st.GetGrantees() {
		rs := g.GetRoleSpec()
		if rs.GetRoletype() != pg.RoleSpecType_ROLESPEC_CSTRING {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "%s to PUBLIC or CURRENT_USER is not supported: name the role", tag)
		}
		if _, ok := db.roles.roles[rs.GetRolename()]; !ok {
			return nil, errs.New(errs.ErrNotFound, "42704", "role %q does not exist", rs.GetRolename())
		}
		grantees = append(grantees, rs.GetRolename())
	}
	old := map[string]Role{}
	for _, name := range grantees {
		r := db.roles.roles[name]
		old[name] = r
		r.Grants = cloneGrants(r.Grants)
		for _, t := range targets {
			g := r.Grants[t.tenant]
			if g == nil {
				g = &TenantGrants{}
				r.Grants[t.tenant] = g
			}
			switch {
			case st.GetObjtype() == pg.ObjectType_OBJECT_DATABASE:
				g.Connect = st.GetIsGrant()
			case t.all:
				g.All = applyPrivs(g.All, privs, st.GetIsGrant())
				if !st.GetIsGrant() { // REVOKE … ON ALL TABLES takes them from each table too
					for tb, p := range g.Tables {
						g.Tables[tb] = applyPrivs(p, privs, false)
					}
				}
			default:
				if g.Tables == nil {
					g.Tables = map[string][]string{}
				}
				g.Tables[t.table] = applyPrivs(g.Tables[t.table], privs, st.GetIsGrant())
			}
		}
		db.roles.roles[name] = r
	}
	if err := db.roles.saveLocked(); err != nil {
		for name, r := range old {
			db.roles.roles[name] = r
		}
		return nil, err
	}
	return &Result{Tag: tag}, nil
}

func applyPrivs(have, privs []string, grant bool) []string {
	out := slices.Clone(have)
	for _, p := range privs {
		i := slices.Index(out, p)
		switch {
		case grant && i < 0:
			out = append(out, p)
		case !grant && i >= 0:
			out = slices.Delete(out, i, i+1)
		}
	}
	slices.Sort(out)
	return out
}

func cloneGrants(g map[string]*TenantGrants) map[string]*TenantGrants {
	out := make(map[string]*TenantGrants, len(g))
	for k, v := range g {
		c := *v
		c.All = slices.Clone(v.All)
		c.Tables = make(map[string][]string, len(v.Tables))
		for t, p := range v.Tables {
			c.Tables[t] = slices.Clone(p)
		}
		out[k] = &c
	}
	return out
}

// authorizeStatement checks a statement's privileges that do not come
// from reading tables (those the planner's catalog checks).
func (db *DB) authorizeStatement(client *Session, tenant string, node *pg.Node) error {
	if _, ok := db.ordinaryRole(client); !ok {
		return nil
	}
	switch {
	case node.GetInsertStmt() != nil:
		return db.authorizeTable(client, tenant, node.GetInsertStmt().GetRelation().GetRelname(), PrivInsert)
	case node.GetDeleteStmt() != nil:
		return db.authorizeTable(client, tenant, node.GetDeleteStmt().GetRelation().GetRelname(), PrivDelete)
	case node.GetTruncateStmt() != nil:
		for _, r := range node.GetTruncateStmt().GetRelations() {
			if err := db.authorizeTable(client, tenant, r.GetRangeVar().GetRelname(), PrivDelete); err != nil {
				return err
			}
		}
		return nil
	case node.GetSelectStmt() != nil, node.GetExplainStmt() != nil, node.GetVariableSetStmt() != nil,
		node.GetVariableShowStmt() != nil, node.GetTransactionStmt() != nil, node.GetGrantStmt() != nil,
		node.GetCreateRoleStmt() != nil, node.GetAlterRoleStmt() != nil, node.GetDropRoleStmt() != nil:
		return nil // checked as they run
	}
	return db.authorizeSuperuser(client, stmtKind(node))
}

// AuthorizeTable checks the session's (ctx's) privilege on a table of
// tenant: for paths that read or write without a statement (COPY FROM,
// the HTTP API's writes and streams). With PrivConnect it checks CONNECT
// on the database (table unused).
func (db *DB) AuthorizeTable(ctx context.Context, tenant, table, priv string) error {
	if priv == PrivConnect {
		return db.mayConnect(sessionFrom(ctx), tenant)
	}
	return db.authorizeTable(sessionFrom(ctx), tenant, table, priv)
}

// AuthorizeSuperuser checks that the session (ctx's) is a superuser's:
// a superuser role, one of the server's own accounts, or the embedded
// API (no session). what names the action for the message.
func (db *DB) AuthorizeSuperuser(ctx context.Context, what string) error {
	return db.authorizeSuperuser(sessionFrom(ctx), what)
}
