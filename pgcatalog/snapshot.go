package pgcatalog

import (
	"hash/fnv"
	"sort"
	"strings"
)

// Snapshot is the live catalog of the database (tenant) a statement runs
// in, as plain data. The root package fills it in; relations are built
// from it.
type Snapshot struct {
	Database  string   // the current database (tenant)
	Databases []string // every database, sorted
	User      string   // the session user (the one role)
	Version   string   // what version() returns
	Tables    []Table
	Views     []View
	Roles     []Role // the roles created in SQL
	Functions []Function
	// StartTime is the server start, ns since the epoch
	// (pg_postmaster_start_time()).
	StartTime int64
	// BackendPID is what pg_backend_pid() returns.
	BackendPID int64
	// Setting, when set, gives the session's current value of a run-time
	// setting (current_setting), before the server defaults.
	Setting func(name string) (string, bool)
	// Privilege, when set, answers has_table_privilege and
	// has_database_privilege: whether user ("": the session user) holds
	// priv (lower case: select, insert, connect, …) on a table or view of
	// this database (kind "table") or on a database (kind "database").
	// nil: every privilege.
	Privilege func(user, kind, name, priv string) bool
}

// Table is a user table; it lives in schema public.
type Table struct {
	OID     int64
	Name    string
	Columns []Column
}

// View is a user view in schema public.
type View struct {
	OID        int64
	Name       string
	Definition string // the SELECT text
	Columns    []Column
	// Materialized: a continuous aggregate (relkind 'm'), not listed by
	// pg_views and information_schema.views
	Materialized bool
}

// Column is a column of a user table or view.
type Column struct {
	Name    string
	Type    string // pg_type.typname: timestamptz, text, float8, int8, bool, …
	NotNull bool
	Kind    string // "time", "tag", "field" ("" for view columns)
}

// Function is a function of the registry.
type Function struct {
	Name string
	Kind string // pg_proc.prokind: "f" function, "a" aggregate, "w" window
}

// TableOID is the OID of the user table with the engine's table id: ids
// are never reused, so the OID is stable across restarts.
func TableOID(id uint32) int64 { return FirstUserOID + int64(id) }

// ViewOID is the OID of a user view, derived from its name (views have no
// engine id); it lies in [2^30, 2^31), away from table OIDs.
func ViewOID(name string) int64 { return 1<<30 | int64(hash30(name)) }

// RoleOID is the OID of a role other than the session's (which is
// OIDSuperuser's row), derived from its name in [2^28, 2^29).
func RoleOID(name string) int64 { return 1<<28 | int64(hash30(name)>>2) }

// Role is a database role (CREATE ROLE).
type Role struct {
	Name             string
	Superuser, Login bool
}

// DatabaseOID is the OID of a database: 5 for postgres (as in
// PostgreSQL), else derived from the name in [2^29, 2^30).
func DatabaseOID(name string) int64 {
	if name == "postgres" {
		return 5
	}
	return 1<<29 | int64(hash30(name)>>1)
}

func hash30(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32() & (1<<30 - 1)
}

// Relation returns the columns of an emulated relation; schema is
// "pg_catalog" or "information_schema".
func Relation(schema, name string) ([]Col, bool) {
	defs, ok := columnsOf(schema + "." + name)
	if !ok {
		return nil, false
	}
	out := make([]Col, len(defs))
	for i, d := range defs {
		t, pg := sqlType(d.typ)
		out[i] = Col{Name: d.name, T: t, PGType: pg}
	}
	return out, true
}

// IsSchema reports whether name is a schema ugnos knows.
func IsSchema(name string) bool {
	switch name {
	case "pg_catalog", "public", "information_schema", "pg_toast":
		return true
	}
	return false
}

// SchemaOID returns the OID of a schema.
func SchemaOID(name string) (int64, bool) {
	switch name {
	case "pg_catalog":
		return OIDPgCatalog, true
	case "public":
		return OIDPublic, true
	case "information_schema":
		return OIDInformationSchema, true
	case "pg_toast":
		return 99, true
	}
	return 0, false
}

// catalogRelation is an emulated relation as a row of pg_class.
type catalogRelation struct {
	oid          int64
	schema, name string
	view         bool
}

// fixedOIDs are PostgreSQL's OIDs of the core catalogs.
var fixedOIDs = map[string]int64{
	"pg_catalog.pg_class": OIDPgClass, "pg_catalog.pg_type": OIDPgType, "pg_catalog.pg_proc": OIDPgProc,
	"pg_catalog.pg_attribute": 1249, "pg_catalog.pg_namespace": OIDPgNamespace,
	"pg_catalog.pg_database": OIDPgDatabase, "pg_catalog.pg_constraint": OIDPgConstraint,
	"pg_catalog.pg_description": 2609, "pg_catalog.pg_index": 2610, "pg_catalog.pg_attrdef": 2604,
	"pg_catalog.pg_am": 2601, "pg_catalog.pg_inherits": 2611, "pg_catalog.pg_tablespace": 1213,
	"pg_catalog.pg_collation": 3456, "pg_catalog.pg_enum": 3501, "pg_catalog.pg_range": 3541,
	"pg_catalog.pg_trigger": 2620, "pg_catalog.pg_rewrite": 2618, "pg_catalog.pg_depend": 2608,
	"pg_catalog.pg_shdescription": 2396, "pg_catalog.pg_extension": 3079, "pg_catalog.pg_language": 2612,
	"pg_catalog.pg_operator": 2617, "pg_catalog.pg_cast": 2605, "pg_catalog.pg_aggregate": 2600,
	"pg_catalog.pg_opclass": 2616, "pg_catalog.pg_auth_members": 1261, "pg_catalog.pg_sequence": 2224,
	"pg_catalog.pg_policy": 3256, "pg_catalog.pg_statistic_ext": 3381, "pg_catalog.pg_publication": 6104,
	"pg_catalog.pg_publication_namespace": 6237, "pg_catalog.pg_publication_rel": 6106,
	"pg_catalog.pg_foreign_table": 3118, "pg_catalog.pg_foreign_server": 1417,
	"pg_catalog.pg_foreign_data_wrapper": 2328, "pg_catalog.pg_partitioned_table": 3350,
	"pg_catalog.pg_event_trigger": 3466,
}

// catalogViews are the emulated relations that are views in PostgreSQL.
var catalogViews = map[string]bool{
	"pg_roles": true, "pg_user": true, "pg_settings": true, "pg_views": true, "pg_tables": true,
	"pg_matviews": true, "pg_stat_activity": true, "pg_sequences": true, "pg_indexes": true,
	"pg_group": true, "pg_stat_user_tables": true, "pg_stat_database": true, "pg_locks": true,
	"pg_timezone_names": true, "pg_available_extensions": true,
}

var catalogRelations []catalogRelation

func init() {
	var keys []string
	for k := range relColumns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	next := int64(12000)
	for _, k := range keys {
		schema, name, _ := strings.Cut(k, ".")
		oid, ok := fixedOIDs[k]
		if !ok {
			oid = next
			next++
		}
		catalogRelations = append(catalogRelations, catalogRelation{oid: oid, schema: schema, name: name,
			view: schema == "information_schema" || catalogViews[name]})
	}
}

// RelationOID finds a relation's OID by schema and name (schema "" looks
// in pg_catalog, then public).
func (s *Snapshot) RelationOID(schema, name string) (int64, bool) {
	if schema == "" || schema == "pg_catalog" || schema == "information_schema" {
		for _, r := range catalogRelations {
			if r.name == name && (r.schema == schema || schema == "" && r.schema == "pg_catalog") {
				return r.oid, true
			}
		}
	}
	if schema == "" || schema == "public" {
		for _, t := range s.Tables {
			if t.Name == name {
				return t.OID, true
			}
		}
		for _, v := range s.Views {
			if v.Name == name {
				return v.OID, true
			}
		}
	}
	return 0, false
}

// RelationName is the regclass output of an OID: the relation's name,
// qualified when it is not visible on the search path (pg_catalog,
// public), or the number when no relation has it.
func (s *Snapshot) RelationName(oid int64) string {
	for _, t := range s.Tables {
		if t.OID == oid {
			return quoteIdent(t.Name)
		}
	}
	for _, v := range s.Views {
		if v.OID == oid {
			return quoteIdent(v.Name)
		}
	}
	for _, r := range catalogRelations {
		if r.oid == oid {
			if r.schema == "pg_catalog" {
				return quoteIdent(r.name)
			}
			return quoteIdent(r.schema) + "." + quoteIdent(r.name)
		}
	}
	return itoa(oid)
}

// ViewDefinition is pg_get_viewdef of a view's OID.
func (s *Snapshot) ViewDefinition(oid int64) (string, bool) {
	for _, v := range s.Views {
		if v.OID == oid {
			return v.Definition, true
		}
	}
	return "", false
}
