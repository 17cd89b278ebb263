package pgcatalog

import (
	"strconv"
	"strings"

	"github.com/ugnos/ugnos/functions"
)

// MetaPGType is the Arrow field metadata key naming the PostgreSQL type
// (pg_type.typname: "oid", "name", "char", "int4", "int2", "regclass",
// "_aclitem", …) a result column is sent as when its ugnos type (bigint,
// text, …) is wider or plainer than PostgreSQL's. Columns without it are
// sent as their ugnos type.
const MetaPGType = "ugnos.pgtype"

// Well-known OIDs.
const (
	OIDPgCatalog         = 11
	OIDPublic            = 2200
	OIDInformationSchema = 13000 // PostgreSQL assigns it at initdb; ugnos fixes it
	OIDSuperuser         = 10    // the bootstrap superuser role
	OIDDefaultCollation  = 100
	OIDHeapAM            = 2
	OIDPgClass           = 1259
	OIDPgType            = 1247
	OIDPgProc            = 1255
	OIDPgNamespace       = 2615
	OIDPgDatabase        = 1262
	OIDPgConstraint      = 2606
	FirstUserOID         = 16384
)

// colDef is a column of an emulated relation: its name and pg_type.typname.
type colDef struct {
	name, typ string
}

// Col is a column of an emulated relation as the planner sees it.
type Col struct {
	Name string
	T    functions.Type
	// PGType is the pg_type.typname the column is sent as, "" when its
	// ugnos type says it (text, bigint, boolean, …).
	PGType string
}

// sqlType maps a PostgreSQL catalog column type to the ugnos type that
// holds it and the type name to announce.
func sqlType(typ string) (functions.Type, string) {
	switch typ {
	case "bool":
		return functions.TBool, ""
	case "int8":
		return functions.TInt, ""
	case "int2", "int4", "oid", "xid", "regclass", "regnamespace", "regrole":
		return functions.TInt, typ
	case "cardinal_number":
		return functions.TInt, "int4"
	case "float8":
		return functions.TFloat, ""
	case "float4":
		return functions.TFloat, "float4"
	case "timestamptz":
		return functions.TTimestamp, ""
	case "time_stamp":
		return functions.TTimestamp, "timestamptz"
	case "interval":
		return functions.TInterval, ""
	case "text":
		return functions.TText, ""
	case "sql_identifier":
		return functions.TText, "name"
	case "character_data", "yes_or_no":
		return functions.TText, "varchar"
	}
	if isArrayType(typ) {
		return ArrayType, typ
	}
	// name, "char", pg_node_tree, regproc, regtype, inet, bytea, …: text
	// in PostgreSQL's output form
	return functions.TText, typ
}

// ArrayType is the ugnos type of array-valued catalog columns: text in
// PostgreSQL's array output form ('{a,b}'), announced by PGType.
var ArrayType = functions.TText

func isArrayType(typ string) bool {
	return strings.HasPrefix(typ, "_") || typ == "int2vector" || typ == "oidvector" || typ == "anyarray"
}

// pgType is a row of pg_type as far as ugnos needs it.
type pgType struct {
	oid     int64
	name    string
	elem    int64
	typtype string
}

var (
	typesByOID  = map[int64]*pgType{}
	typesByName = map[string]*pgType{}
)

func init() {
	cols := relColumns["pg_catalog.pg_type"]
	idx := map[string]int{}
	for i, c := range cols {
		idx[c.name] = i
	}
	for _, r := range fixedRows["pg_catalog.pg_type"] {
		oid, _ := strconv.ParseInt(r[idx["oid"]], 10, 64)
		elem, _ := strconv.ParseInt(r[idx["typelem"]], 10, 64)
		t := &pgType{oid: oid, name: r[idx["typname"]], elem: elem, typtype: r[idx["typtype"]]}
		typesByOID[oid] = t
		typesByName[t.name] = t
	}
}

// TypeOID returns the OID of a built-in type by pg_type.typname.
func TypeOID(typname string) (int64, bool) {
	t, ok := typesByName[typname]
	if !ok {
		return 0, false
	}
	return t.oid, true
}

// TypeName returns pg_type.typname of a built-in type's OID.
func TypeName(oid int64) (string, bool) {
	t, ok := typesByOID[oid]
	if !ok {
		return "", false
	}
	return t.name, true
}

// SQLTypeName is the pg_type.typname of a ugnos type.
func SQLTypeName(t functions.Type) string {
	switch t {
	case functions.TBool:
		return "bool"
	case functions.TInt:
		return "int8"
	case functions.TFloat:
		return "float8"
	case functions.TTimestamp:
		return "timestamptz"
	case functions.TInterval:
		return "interval"
	case functions.TDate:
		return "date"
	}
	return "text"
}

// standardNames are format_type's names for types with SQL-standard
// spellings.
var standardNames = map[string]string{
	"bool": "boolean", "int2": "smallint", "int4": "integer", "int8": "bigint",
	"float4": "real", "float8": "double precision", "varchar": "character varying",
	"bpchar": "character", "timestamptz": "timestamp with time zone",
	"timestamp": "timestamp without time zone", "timetz": "time with time zone",
	"time": "time without time zone", "varbit": "bit varying", "char": `"char"`,
}

// FormatType is PostgreSQL's format_type(oid, typmod); ok is false for a
// NULL result (NULL type OID).
func FormatType(oid int64, typmod int64, hasTypmod bool) string {
	t, found := typesByOID[oid]
	if !found {
		return "???"
	}
	if t.elem != 0 && strings.HasPrefix(t.name, "_") {
		return FormatType(t.elem, typmod, hasTypmod) + "[]"
	}
	name := t.name
	if s, ok := standardNames[name]; ok {
		name = s
	}
	if hasTypmod && typmod >= 0 {
		switch t.name {
		case "varchar", "bpchar":
			name += "(" + strconv.FormatInt(typmod-4, 10) + ")"
		case "numeric":
			if typmod >= 4 {
				m := typmod - 4
				name += "(" + strconv.FormatInt(m>>16&0xffff, 10) + "," + strconv.FormatInt(m&0xffff, 10) + ")"
			}
		}
	}
	return name
}
