package pgcatalog

import (
	"fmt"
	"sort"
)

// builders fill the rows of relations with content; every other relation
// of relColumns is empty (or holds only fixedRows).
var builders = map[string]func(s *Snapshot, r *rowset){
	"pg_catalog.pg_namespace":              pgNamespace,
	"pg_catalog.pg_class":                  pgClass,
	"pg_catalog.pg_attribute":              pgAttribute,
	"pg_catalog.pg_database":               pgDatabase,
	"pg_catalog.pg_roles":                  pgRoles,
	"pg_catalog.pg_user":                   pgUser,
	"pg_catalog.pg_settings":               pgSettings,
	"pg_catalog.pg_proc":                   pgProc,
	"pg_catalog.pg_views":                  pgViews,
	"pg_catalog.pg_matviews":               pgMatviews,
	"pg_catalog.pg_tables":                 pgTables,
	"pg_catalog.pg_stat_activity":          pgStatActivity,
	"information_schema.schemata":          isSchemata,
	"information_schema.tables":            isTables,
	"information_schema.columns":           isColumns,
	"information_schema.views":             isViews,
	"information_schema.table_constraints": isTableConstraints,
	"information_schema.check_constraints": isCheckConstraints,
	"information_schema.routines":          isRoutines,
	"pg_catalog.pg_get_keywords()":         pgGetKeywords,
	"pg_catalog.pg_description":            pgDescription,
	"pg_catalog.pg_stat_user_tables":       pgStatUserTables,
}

// Rows returns the rows of an emulated relation in its column order.
func Rows(s *Snapshot, schema, name string) ([][]any, []Col, bool) {
	rel := schema + "." + name
	cols, ok := Relation(schema, name)
	if !ok {
		return nil, nil, false
	}
	r := newRowset(rel)
	for _, vals := range fixedRows[rel] {
		r.addText(vals)
	}
	if b := builders[rel]; b != nil {
		b(s, r)
	}
	return r.rows, cols, true
}

func (s *Snapshot) user() string {
	if s.User == "" {
		return "ugnos"
	}
	return s.User
}

var schemas = []struct {
	name  string
	oid   int64
	owner int64
}{
	{"pg_toast", 99, OIDSuperuser},
	{"pg_catalog", OIDPgCatalog, OIDSuperuser},
	{"public", OIDPublic, 6171}, // pg_database_owner
	{"information_schema", OIDInformationSchema, OIDSuperuser},
}

func pgNamespace(s *Snapshot, r *rowset) {
	for _, n := range schemas {
		var acl any // pg_toast has none
		if n.name != "pg_toast" {
			owner := s.user()
			if n.owner == 6171 {
				owner = "pg_database_owner"
			}
			acl = []string{owner + "=UC/" + owner, "=U/" + owner}
		}
		r.add("oid", n.oid, "nspname", n.name, "nspowner", n.owner, "nspacl", acl)
	}
}

// descriptions are the comments (pg_description) on objects ugnos
// emulates: PostgreSQL 15's on its schemas. Types, functions and catalog
// relations carry none in ugnos.
var descriptions = []struct {
	objoid, classoid int64
	text             string
}{
	{OIDPgCatalog, oidPgNamespace, "system catalog schema"},
	{99, oidPgNamespace, "reserved schema for TOAST tables"},
	{OIDPublic, oidPgNamespace, "standard public schema"},
}

// oidPgNamespace is pg_namespace's OID (pg_description.classoid).
const oidPgNamespace = 2615

func pgDescription(_ *Snapshot, r *rowset) {
	for _, d := range descriptions {
		r.add("objoid", d.objoid, "classoid", d.classoid, "objsubid", 0, "description", d.text)
	}
}

// description is obj_description(oid, catalog): the comment on an object
// of the catalog (classoid 0: any catalog).
func description(objoid, classoid int64) (string, bool) {
	for _, d := range descriptions {
		if d.objoid == objoid && (classoid == 0 || d.classoid == classoid) {
			return d.text, true
		}
	}
	return "", false
}

func pgStatUserTables(s *Snapshot, r *rowset) {
	for _, t := range s.Tables {
		// a table without activity: ugnos keeps no statistics, and no
		// indexes (idx_* NULL)
		r.add("relid", t.OID, "schemaname", "public", "relname", t.Name, "idx_scan", nil, "idx_tup_fetch", nil)
	}
}

// typeInfo is what pg_attribute repeats from pg_type.
type typeInfo struct {
	len     int64
	byval   bool
	align   string
	storage string
	coll    int64
}

func typeInfoOf(typ string) typeInfo {
	switch typ {
	case "bool":
		return typeInfo{1, true, "c", "p", 0}
	case "int2":
		return typeInfo{2, true, "s", "p", 0}
	case "int4", "oid", "date", "float4", "xid":
		return typeInfo{4, true, "i", "p", 0}
	case "int8", "float8", "timestamptz", "timestamp":
		return typeInfo{8, true, "d", "p", 0}
	case "interval":
		return typeInfo{16, false, "d", "p", 0}
	case "name":
		return typeInfo{64, false, "c", "p", 950}
	case "char":
		return typeInfo{1, true, "c", "p", 0}
	}
	return typeInfo{-1, false, "i", "x", OIDDefaultCollation}
}

func typeOID(typ string) int64 {
	oid, _ := TypeOID(typ)
	return oid
}

func pgClass(s *Snapshot, r *rowset) {
	for _, t := range s.Tables {
		r.add("oid", t.OID, "relname", t.Name, "relnamespace", OIDPublic, "relowner", OIDSuperuser,
			"relam", OIDHeapAM, "relfilenode", t.OID, "reltuples", float64(-1), "relpersistence", "p",
			"relkind", "r", "relnatts", len(t.Columns), "relispopulated", true, "relreplident", "d",
			"relfrozenxid", 1, "relminmxid", 1)
	}
	for _, v := range s.Views {
		kind := "v"
		if v.Materialized {
			kind = "m"
		}
		r.add("oid", v.OID, "relname", v.Name, "relnamespace", OIDPublic, "relowner", OIDSuperuser,
			"reltuples", float64(-1), "relpersistence", "p", "relkind", kind, "relnatts", len(v.Columns),
			"relhasrules", true, "relispopulated", true, "relreplident", "n")
	}
	for _, c := range catalogRelations {
		ns, _ := SchemaOID(c.schema)
		kind, am := "r", int64(OIDHeapAM)
		if c.view {
			kind, am = "v", 0
		}
		r.add("oid", c.oid, "relname", c.name, "relnamespace", ns, "relowner", OIDSuperuser,
			"relam", am, "reltuples", float64(-1), "relpersistence", "p", "relkind", kind,
			"relnatts", len(relColumns[c.schema+"."+c.name]), "relispopulated", true,
			"relhasrules", c.view, "relreplident", map[bool]string{true: "n", false: "d"}[c.view])
	}
}

func pgAttribute(s *Snapshot, r *rowset) {
	add := func(rel int64, i int, name, typ string, notNull bool) {
		ti := typeInfoOf(typ)
		r.add("attrelid", rel, "attname", name, "atttypid", typeOID(typ), "attstattarget", -1,
			"attlen", ti.len, "attnum", i+1, "attcacheoff", -1, "atttypmod", -1, "attbyval", ti.byval,
			"attalign", ti.align, "attstorage", ti.storage, "attnotnull", notNull, "attislocal", true,
			"attcollation", ti.coll)
	}
	for _, t := range s.Tables {
		systemAttributes(r, t.OID)
		for i, c := range t.Columns {
			add(t.OID, i, c.Name, c.Type, c.NotNull)
		}
	}
	for _, v := range s.Views {
		for i, c := range v.Columns {
			add(v.OID, i, c.Name, c.Type, false)
		}
	}
	for _, c := range catalogRelations {
		if !c.view {
			systemAttributes(r, c.oid)
		}
		for i, d := range relColumns[c.schema+"."+c.name] {
			add(c.oid, i, d.name, d.typ, false)
		}
	}
}

// sysColumns are the system columns every table has in PostgreSQL 15
// (pg_attribute rows with negative attnum); ugnos lists them but its
// tables do not answer them.
var sysColumns = []struct {
	name  string
	typ   int64
	len   int64
	byval bool
	align string
}{
	{"tableoid", 26, 4, true, "i"},
	{"cmax", 29, 4, true, "i"},
	{"xmax", 28, 4, true, "i"},
	{"cmin", 29, 4, true, "i"},
	{"xmin", 28, 4, true, "i"},
	{"ctid", 27, 6, false, "s"},
}

func systemAttributes(r *rowset, rel int64) {
	for i, c := range sysColumns {
		r.add("attrelid", rel, "attname", c.name, "atttypid", c.typ, "attlen", c.len,
			"attnum", i-len(sysColumns), "attcacheoff", -1, "atttypmod", -1, "attbyval", c.byval,
			"attalign", c.align, "attstorage", "p", "attnotnull", true, "attislocal", true)
	}
}

func pgDatabase(s *Snapshot, r *rowset) {
	for _, d := range s.Databases {
		r.add("oid", DatabaseOID(d), "datname", d, "datdba", OIDSuperuser, "encoding", 6,
			"datlocprovider", "c", "datallowconn", true, "datconnlimit", -1, "datfrozenxid", 1,
			"datminmxid", 1, "dattablespace", 1663, "datcollate", "C", "datctype", "C")
	}
}

// sessionRole is the session user's row: a role's flags when it is one,
// a superuser's otherwise (the server's own accounts).
func (s *Snapshot) sessionRole() Role {
	for _, ro := range s.Roles {
		if ro.Name == s.user() {
			return ro
		}
	}
	return Role{Name: s.user(), Superuser: true, Login: true}
}

// roles calls f for the session user (OIDSuperuser) and every other role.
func (s *Snapshot) roles(f func(oid int64, ro Role)) {
	f(OIDSuperuser, s.sessionRole())
	for _, ro := range s.Roles {
		if ro.Name != s.user() {
			f(RoleOID(ro.Name), ro)
		}
	}
}

func pgRoles(s *Snapshot, r *rowset) {
	s.roles(func(oid int64, ro Role) {
		r.add("rolname", ro.Name, "rolsuper", ro.Superuser, "rolinherit", true, "rolcreaterole", ro.Superuser,
			"rolcreatedb", ro.Superuser, "rolcanlogin", ro.Login, "rolreplication", ro.Superuser, "rolbypassrls", ro.Superuser,
			"rolconnlimit", -1, "rolpassword", "********", "oid", oid)
	})
}

func pgUser(s *Snapshot, r *rowset) {
	s.roles(func(oid int64, ro Role) {
		if ro.Login {
			r.add("usename", ro.Name, "usesysid", oid, "usecreatedb", ro.Superuser, "usesuper", ro.Superuser,
				"passwd", "********")
		}
	})
}

// Settings are the run-time parameters ugnos reports (SHOW, pg_settings,
// current_setting): name, value, unit, category, description, vartype.
var Settings = [][6]string{
	{"application_name", "", "", "Reporting and Logging / What to Log", "Sets the application name to be reported in statistics and logs.", "string"},
	{"client_encoding", "UTF8", "", "Client Connection Defaults / Locale and Formatting", "Sets the client's character set encoding.", "string"},
	{"DateStyle", "ISO, MDY", "", "Client Connection Defaults / Locale and Formatting", "Sets the display format for date and time values.", "string"},
	{"default_transaction_isolation", "read committed", "", "Client Connection Defaults / Statement Behavior", "Sets the transaction isolation level of each new transaction.", "enum"},
	{"default_transaction_read_only", "off", "", "Client Connection Defaults / Statement Behavior", "Sets the default read-only status of new transactions.", "bool"},
	{"extra_float_digits", "1", "", "Client Connection Defaults / Locale and Formatting", "Sets the number of digits displayed for floating-point values.", "integer"},
	{"integer_datetimes", "on", "", "Preset Options", "Shows whether datetimes are integer based.", "bool"},
	{"IntervalStyle", "postgres", "", "Client Connection Defaults / Locale and Formatting", "Sets the display format for interval values.", "enum"},
	{"is_superuser", "on", "", "Preset Options", "Shows whether the current user is a superuser.", "bool"},
	{"lc_collate", "C", "", "Preset Options", "Shows the collation order locale.", "string"},
	{"lc_ctype", "C", "", "Preset Options", "Shows the character classification and case conversion locale.", "string"},
	{"max_identifier_length", "63", "", "Preset Options", "Shows the maximum identifier length.", "integer"},
	{"max_index_keys", "32", "", "Preset Options", "Shows the maximum number of index keys.", "integer"},
	{"search_path", `"$user", public`, "", "Client Connection Defaults / Statement Behavior", "Sets the schema search order for names that are not schema-qualified.", "string"},
	{"server_encoding", "UTF8", "", "Preset Options", "Shows the server (database) character set encoding.", "string"},
	{"server_version", "15.0", "", "Preset Options", "Shows the server version.", "string"},
	{"server_version_num", "150000", "", "Preset Options", "Shows the server version as an integer.", "integer"},
	{"standard_conforming_strings", "on", "", "Version and Platform Compatibility / Previous PostgreSQL Versions", "Causes '...' strings to treat backslashes literally.", "bool"},
	{"statement_timeout", "0", "ms", "Client Connection Defaults / Statement Behavior", "Sets the maximum allowed duration of any statement.", "integer"},
	{"TimeZone", "UTC", "", "Client Connection Defaults / Locale and Formatting", "Sets the time zone for displaying and interpreting time stamps.", "string"},
	{"transaction_isolation", "read committed", "", "Client Connection Defaults / Statement Behavior", "Sets the current transaction's isolation level.", "enum"},
	{"transaction_read_only", "off", "", "Client Connection Defaults / Statement Behavior", "Sets the current transaction's read-only status.", "bool"},
}

// Setting returns a run-time parameter's value (names are
// case-insensitive).
func Setting(name string) (string, bool) {
	for _, st := range Settings {
		if equalFold(st[0], name) {
			return st[1], true
		}
	}
	return "", false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func pgSettings(s *Snapshot, r *rowset) {
	for _, st := range Settings {
		var unit any
		if st[2] != "" {
			unit = st[2]
		}
		r.add("name", st[0], "setting", st[1], "unit", unit, "category", st[3], "short_desc", st[4],
			"context", "user", "vartype", st[5], "source", "default", "boot_val", st[1], "reset_val", st[1],
			"pending_restart", false)
	}
}

func sortFunctions(fns []Function) {
	sort.Slice(fns, func(i, j int) bool { return fns[i].Name < fns[j].Name })
}

func pgProc(s *Snapshot, r *rowset) {
	for i, f := range s.procs() {
		kind := f.Kind
		if kind == "" {
			kind = "f"
		}
		r.add("oid", 8000+i, "proname", f.Name, "pronamespace", OIDPgCatalog, "proowner", OIDSuperuser,
			"prolang", 12, "procost", float64(1), "prokind", kind, "proisstrict", true,
			"provolatile", "i", "proparallel", "s", "proargtypes", "", "prosrc", f.Name)
	}
}

func pgViews(s *Snapshot, r *rowset) {
	for _, v := range s.Views {
		if v.Materialized {
			continue
		}
		r.add("schemaname", "public", "viewname", v.Name, "viewowner", s.user(), "definition", v.Definition)
	}
}

// pgMatviews lists the continuous aggregates.
func pgMatviews(s *Snapshot, r *rowset) {
	for _, v := range s.Views {
		if v.Materialized {
			r.add("schemaname", "public", "matviewname", v.Name, "matviewowner", s.user(), "hasindexes", false,
				"ispopulated", true, "definition", v.Definition)
		}
	}
}

func pgTables(s *Snapshot, r *rowset) {
	for _, t := range s.Tables {
		r.add("schemaname", "public", "tablename", t.Name, "tableowner", s.user())
	}
	for _, c := range catalogRelations {
		if !c.view {
			r.add("schemaname", c.schema, "tablename", c.name, "tableowner", s.user())
		}
	}
}

func pgStatActivity(s *Snapshot, r *rowset) {
	r.add("datid", DatabaseOID(s.Database), "datname", s.Database, "pid", s.BackendPID,
		"usesysid", OIDSuperuser, "usename", s.user(), "application_name", "", "state", "active",
		"backend_type", "client backend")
}

func isSchemata(s *Snapshot, r *rowset) {
	for _, n := range schemas {
		owner := s.user()
		if n.name == "public" {
			owner = "pg_database_owner"
		}
		r.add("catalog_name", s.Database, "schema_name", n.name, "schema_owner", owner)
	}
}

// relations lists the tables and views of every schema as
// (schema, name, oid, view, columns).
func (s *Snapshot) relations(f func(schema, name string, oid int64, view bool, cols []Column)) {
	for _, t := range s.Tables {
		f("public", t.Name, t.OID, false, t.Columns)
	}
	for _, v := range s.Views {
		f("public", v.Name, v.OID, true, v.Columns)
	}
	for _, c := range catalogRelations {
		defs := relColumns[c.schema+"."+c.name]
		cols := make([]Column, len(defs))
		for i, d := range defs {
			cols[i] = Column{Name: d.name, Type: d.typ}
		}
		f(c.schema, c.name, c.oid, c.view, cols)
	}
}

func isTables(s *Snapshot, r *rowset) {
	s.relations(func(schema, name string, oid int64, view bool, cols []Column) {
		typ, ins := "BASE TABLE", "YES"
		if view {
			typ, ins = "VIEW", "NO"
		}
		r.add("table_catalog", s.Database, "table_schema", schema, "table_name", name, "table_type", typ,
			"is_insertable_into", ins, "is_typed", "NO")
	})
}

// dataType is information_schema's data_type of a column type.
func dataType(typ string) string {
	switch {
	case isArrayType(typ):
		return "ARRAY"
	case typ == "sql_identifier" || typ == "cardinal_number" || typ == "character_data" ||
		typ == "yes_or_no" || typ == "time_stamp":
		return "USER-DEFINED" // PostgreSQL shows the domain's base type; close enough for clients
	}
	oid, ok := TypeOID(typ)
	if !ok {
		return typ
	}
	return FormatType(oid, -1, false)
}

func isColumns(s *Snapshot, r *rowset) {
	s.relations(func(schema, name string, oid int64, view bool, cols []Column) {
		for i, c := range cols {
			nullable := "YES"
			if c.NotNull {
				nullable = "NO"
			}
			kv := []any{"table_catalog", s.Database, "table_schema", schema, "table_name", name,
				"column_name", c.Name, "ordinal_position", i + 1, "is_nullable", nullable,
				"data_type", dataType(c.Type), "udt_catalog", s.Database, "udt_schema", "pg_catalog",
				"udt_name", c.Type, "dtd_identifier", itoa(int64(i + 1)), "is_self_referencing", "NO",
				"is_identity", "NO", "identity_cycle", "NO", "is_generated", "NEVER"}
			if view || schema != "public" {
				kv = append(kv, "is_updatable", "NO")
			} else {
				kv = append(kv, "is_updatable", "YES")
			}
			switch c.Type {
			case "int8":
				kv = append(kv, "numeric_precision", 64, "numeric_precision_radix", 2, "numeric_scale", 0)
			case "int4":
				kv = append(kv, "numeric_precision", 32, "numeric_precision_radix", 2, "numeric_scale", 0)
			case "int2":
				kv = append(kv, "numeric_precision", 16, "numeric_precision_radix", 2, "numeric_scale", 0)
			case "float8":
				kv = append(kv, "numeric_precision", 53, "numeric_precision_radix", 2)
			case "float4":
				kv = append(kv, "numeric_precision", 24, "numeric_precision_radix", 2)
			case "timestamptz", "timestamp", "date":
				p := 6
				if c.Type == "date" {
					p = 0
				}
				kv = append(kv, "datetime_precision", p)
			case "text":
				kv = append(kv, "character_octet_length", 1073741824)
			}
			switch c.Type {
			case "sql_identifier", "cardinal_number", "character_data", "yes_or_no", "time_stamp":
				kv = append(kv, "domain_catalog", s.Database, "domain_schema", "information_schema", "domain_name", c.Type)
			}
			r.add(kv...)
		}
	})
}

func isViews(s *Snapshot, r *rowset) {
	for _, v := range s.Views {
		if v.Materialized {
			continue
		}
		r.add("table_catalog", s.Database, "table_schema", "public", "table_name", v.Name,
			"view_definition", v.Definition, "check_option", "NONE", "is_updatable", "NO",
			"is_insertable_into", "NO", "is_trigger_updatable", "NO", "is_trigger_deletable", "NO",
			"is_trigger_insertable_into", "NO")
	}
}

// notNullChecks calls f for each NOT NULL column of a user table, which
// the information schema shows as a CHECK constraint.
func (s *Snapshot) notNullChecks(f func(t Table, attnum int, c Column, name string)) {
	for _, t := range s.Tables {
		for i, c := range t.Columns {
			if c.NotNull {
				f(t, i+1, c, fmt.Sprintf("%d_%d_%d_not_null", OIDPublic, t.OID, i+1))
			}
		}
	}
}

func isTableConstraints(s *Snapshot, r *rowset) {
	s.notNullChecks(func(t Table, _ int, _ Column, name string) {
		r.add("constraint_catalog", s.Database, "constraint_schema", "public", "constraint_name", name,
			"table_catalog", s.Database, "table_schema", "public", "table_name", t.Name,
			"constraint_type", "CHECK", "is_deferrable", "NO", "initially_deferred", "NO", "enforced", "YES")
	})
}

func isCheckConstraints(s *Snapshot, r *rowset) {
	s.notNullChecks(func(_ Table, _ int, c Column, name string) {
		r.add("constraint_catalog", s.Database, "constraint_schema", "public", "constraint_name", name,
			"check_clause", quoteIdent(c.Name)+" IS NOT NULL")
	})
}

func isRoutines(s *Snapshot, r *rowset) {
	for i, f := range s.procs() {
		r.add("specific_catalog", s.Database, "specific_schema", "pg_catalog",
			"specific_name", fmt.Sprintf("%s_%d", f.Name, 8000+i), "routine_catalog", s.Database,
			"routine_schema", "pg_catalog", "routine_name", f.Name, "routine_type", "FUNCTION")
	}
}
