package pgcatalog

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// argKind is what a catalog function accepts in one position.
type argKind uint8

const (
	argOID  argKind = iota // an OID: bigint, or text holding a number ('16384')
	argInt                 // bigint
	argText                // text
	argBool                // boolean
	argAny                 // anything (privilege checks)
)

// catFunc is a catalog function: the accepted argument lists and a row
// function over the arguments (nil args are NULL).
type catFunc struct {
	name     string
	ret      functions.Type
	sigs     [][]argKind
	strict   bool // NULL in, NULL out
	volatile bool
	f        func(s *Snapshot, args []any) (any, error)
}

func sig(kinds ...argKind) []argKind { return kinds }

// Functions returns the catalog and session functions (version(),
// current_user, format_type, pg_get_userbyid, regclass input and output,
// …) for a statement; snap is called at most once, when a function first
// needs the catalog.
func Functions(snap func() *Snapshot) []*functions.Scalar {
	out := make([]*functions.Scalar, 0, len(catFuncs))
	for i := range catFuncs {
		out = append(out, catFuncs[i].scalar(snap))
	}
	return append(out, formatFunc())
}

func (c *catFunc) scalar(snap func() *Snapshot) *functions.Scalar {
	return &functions.Scalar{Name: c.name, Volatile: c.volatile, Resolve: func(a []functions.Type) (functions.Type, functions.Kernel, error) {
		if !c.accepts(a) {
			ts := make([]string, len(a))
			for i, t := range a {
				ts[i] = t.Name()
			}
			return 0, nil, errs.New(errs.ErrNotFound, "42883", "function %s(%s) does not exist", c.name, strings.Join(ts, ", "))
		}
		return c.ret, functions.RowKernel(c.ret, func(args []functions.Vec, i int) (any, error) {
			vals := make([]any, len(args))
			for k, v := range args {
				if v.IsNull(i) {
					if c.strict {
						return nil, nil
					}
					continue
				}
				vals[k] = v.Value(i)
			}
			return c.f(snap(), vals)
		}), nil
	}}
}

func (c *catFunc) accepts(a []functions.Type) bool {
	for _, s := range c.sigs {
		if len(s) != len(a) {
			continue
		}
		ok := true
		for i, k := range s {
			t := a[i]
			switch k {
			case argOID:
				ok = ok && (t == functions.TInt || t == functions.TText)
			case argInt:
				ok = ok && (t == functions.TInt || t == functions.TText) // text: a NULL literal
			case argText:
				ok = ok && t == functions.TText
			case argBool:
				ok = ok && t == functions.TBool
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// oidOf reads an OID argument (bigint, or text holding a number).
func oidOf(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, errs.New(errs.ErrInvalidInput, errs.CodeInvalidText, "invalid input syntax for type oid: %q", x)
		}
		return n, nil
	}
	return 0, nil
}

func constant(v any) func(*Snapshot, []any) (any, error) {
	return func(*Snapshot, []any) (any, error) { return v, nil }
}

var (
	oid1     = sig(argOID)
	none     = sig()
	privSigs = [][]argKind{sig(argAny, argAny), sig(argAny, argAny, argAny)}
	tru      = constant(true)
	null     = constant(nil)
)

var catFuncs = []catFunc{
	{name: "version", ret: functions.TText, sigs: [][]argKind{none}, f: func(s *Snapshot, _ []any) (any, error) { return s.Version, nil }},
	{name: "current_database", ret: functions.TText, sigs: [][]argKind{none}, f: func(s *Snapshot, _ []any) (any, error) { return s.Database, nil }},
	{name: "current_user", ret: functions.TText, sigs: [][]argKind{none}, f: func(s *Snapshot, _ []any) (any, error) { return s.user(), nil }},
	{name: "session_user", ret: functions.TText, sigs: [][]argKind{none}, f: func(s *Snapshot, _ []any) (any, error) { return s.user(), nil }},
	{name: "current_schema", ret: functions.TText, sigs: [][]argKind{none}, f: constant("public")},
	{name: "current_schemas", ret: functions.TText, sigs: [][]argKind{sig(argBool)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		if a[0].(bool) {
			return "{pg_catalog,public}", nil
		}
		return "{public}", nil
	}},
	{name: "pg_backend_pid", ret: functions.TInt, sigs: [][]argKind{none}, f: func(s *Snapshot, _ []any) (any, error) { return s.BackendPID, nil }},
	{name: "pg_postmaster_start_time", ret: functions.TTimestamp, sigs: [][]argKind{none}, f: func(s *Snapshot, _ []any) (any, error) { return s.StartTime, nil }},
	{name: "json_build_object", ret: functions.TText, sigs: [][]argKind{none, sig(argAny, argAny), sig(argAny, argAny, argAny, argAny),
		sig(argAny, argAny, argAny, argAny, argAny, argAny), sig(argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny),
		sig(argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny),
		sig(argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny),
		sig(argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny, argAny)},
		f: jsonBuildObject},
	{name: "pg_is_in_recovery", ret: functions.TBool, sigs: [][]argKind{none}, f: constant(false)},
	{name: "txid_current", ret: functions.TInt, sigs: [][]argKind{none}, volatile: true, f: constant(int64(1000))},
	{name: "getdatabaseencoding", ret: functions.TText, sigs: [][]argKind{none}, f: constant("UTF8")},
	{name: "pg_my_temp_schema", ret: functions.TInt, sigs: [][]argKind{none}, f: constant(int64(0))},
	{name: "pg_is_other_temp_schema", ret: functions.TBool, sigs: [][]argKind{oid1}, strict: true, f: constant(false)},
	{name: "current_setting", ret: functions.TText, sigs: [][]argKind{sig(argText), sig(argText, argBool)}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		if s.Setting != nil {
			if v, ok := s.Setting(a[0].(string)); ok {
				return v, nil
			}
		}
		v, ok := Setting(a[0].(string))
		if !ok {
			if len(a) > 1 && a[1].(bool) {
				return nil, nil
			}
			return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "unrecognized configuration parameter %q", a[0])
		}
		return v, nil
	}},
	{name: "format_type", ret: functions.TText, sigs: [][]argKind{sig(argOID, argInt)}, f: func(_ *Snapshot, a []any) (any, error) {
		if a[0] == nil {
			return nil, nil
		}
		oid, err := oidOf(a[0])
		if err != nil {
			return nil, err
		}
		mod, has := a[1].(int64)
		if m, ok := a[1].(string); ok {
			n, err := oidOf(m)
			if err != nil {
				return nil, err
			}
			mod, has = n, true
		}
		return FormatType(oid, mod, has), nil
	}},
	{name: "pg_get_expr", ret: functions.TText, sigs: [][]argKind{sig(argText, argOID), sig(argText, argOID, argBool)}, strict: true,
		f: func(_ *Snapshot, a []any) (any, error) { return a[0], nil }}, // ugnos stores no expression trees
	{name: "pg_table_is_visible", ret: functions.TBool, sigs: [][]argKind{oid1}, strict: true, f: tru},
	{name: "pg_type_is_visible", ret: functions.TBool, sigs: [][]argKind{oid1}, strict: true, f: tru},
	{name: "pg_function_is_visible", ret: functions.TBool, sigs: [][]argKind{oid1}, strict: true, f: tru},
	{name: "has_table_privilege", ret: functions.TBool, sigs: privSigs, strict: true, f: hasPrivilege("table")},
	{name: "has_schema_privilege", ret: functions.TBool, sigs: privSigs, strict: true, f: tru},
	{name: "has_database_privilege", ret: functions.TBool, sigs: privSigs, strict: true, f: hasPrivilege("database")},
	{name: "has_any_column_privilege", ret: functions.TBool, sigs: privSigs, strict: true, f: tru},
	{name: "has_column_privilege", ret: functions.TBool, sigs: [][]argKind{sig(argAny, argAny, argAny), sig(argAny, argAny, argAny, argAny)}, strict: true, f: tru},
	{name: "has_function_privilege", ret: functions.TBool, sigs: privSigs, strict: true, f: tru},
	{name: "has_sequence_privilege", ret: functions.TBool, sigs: privSigs, strict: true, f: tru},
	{name: "pg_has_role", ret: functions.TBool, sigs: privSigs, strict: true, f: tru},
	{name: "obj_description", ret: functions.TText, sigs: [][]argKind{oid1, sig(argOID, argText)}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		oid, err := oidOf(a[0])
		if err != nil {
			return nil, err
		}
		var class int64
		if len(a) > 1 {
			if class, err = s.regclassIn(a[1].(string)); err != nil {
				return nil, err
			}
		}
		if d, ok := description(oid, class); ok {
			return d, nil
		}
		return nil, nil
	}},
	{name: "col_description", ret: functions.TText, sigs: [][]argKind{sig(argOID, argInt)}, f: null},
	{name: "shobj_description", ret: functions.TText, sigs: [][]argKind{sig(argOID, argText)}, f: null},
	{name: "pg_get_userbyid", ret: functions.TText, sigs: [][]argKind{oid1}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		oid, err := oidOf(a[0])
		if err != nil {
			return nil, err
		}
		if oid == OIDSuperuser {
			return s.user(), nil
		}
		if oid == 6171 {
			return "pg_database_owner", nil
		}
		return fmt.Sprintf("unknown (OID=%d)", oid), nil
	}},
	{name: "pg_encoding_to_char", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		switch a[0].(int64) {
		case 0:
			return "SQL_ASCII", nil
		case 6:
			return "UTF8", nil
		}
		return "", nil
	}},
	{name: "pg_get_indexdef", ret: functions.TText, sigs: [][]argKind{oid1, sig(argOID, argInt, argBool)}, f: null},
	{name: "pg_get_constraintdef", ret: functions.TText, sigs: [][]argKind{oid1, sig(argOID, argBool)}, f: null},
	{name: "pg_get_triggerdef", ret: functions.TText, sigs: [][]argKind{oid1, sig(argOID, argBool)}, f: null},
	{name: "pg_get_partkeydef", ret: functions.TText, sigs: [][]argKind{oid1}, f: null},
	{name: "pg_get_statisticsobjdef_columns", ret: functions.TText, sigs: [][]argKind{oid1}, f: null},
	{name: "pg_get_serial_sequence", ret: functions.TText, sigs: [][]argKind{sig(argText, argText)}, f: null},
	{name: "pg_get_function_result", ret: functions.TText, sigs: [][]argKind{oid1}, f: null},
	{name: "pg_get_function_arguments", ret: functions.TText, sigs: [][]argKind{oid1}, f: null},
	{name: "pg_get_function_identity_arguments", ret: functions.TText, sigs: [][]argKind{oid1}, f: null},
	{name: "oidvectortypes", ret: functions.TText, sigs: [][]argKind{sig(argText)}, strict: true, f: constant("")},
	{name: "pg_relation_is_publishable", ret: functions.TBool, sigs: [][]argKind{oid1}, strict: true, f: constant(false)},
	{name: "pg_tablespace_location", ret: functions.TText, sigs: [][]argKind{oid1}, strict: true, f: constant("")},
	{name: "pg_get_viewdef", ret: functions.TText, sigs: [][]argKind{oid1, sig(argOID, argBool), sig(argOID, argInt)}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		if name, ok := a[0].(string); ok {
			if _, err := strconv.ParseInt(name, 10, 64); err != nil { // pg_get_viewdef('name')
				oid, err := s.regclassIn(name)
				if err != nil {
					return nil, err
				}
				a[0] = oid
			}
		}
		oid, err := oidOf(a[0])
		if err != nil {
			return nil, err
		}
		if d, ok := s.ViewDefinition(oid); ok {
			return d, nil
		}
		return nil, nil
	}},
	{name: "pg_relation_size", ret: functions.TInt, sigs: [][]argKind{oid1, sig(argOID, argText)}, strict: true, f: constant(int64(0))},
	{name: "pg_total_relation_size", ret: functions.TInt, sigs: [][]argKind{oid1}, strict: true, f: constant(int64(0))},
	{name: "pg_table_size", ret: functions.TInt, sigs: [][]argKind{oid1}, strict: true, f: constant(int64(0))},
	{name: "pg_indexes_size", ret: functions.TInt, sigs: [][]argKind{oid1}, strict: true, f: constant(int64(0))},
	{name: "pg_stat_get_numscans", ret: functions.TInt, sigs: [][]argKind{oid1}, strict: true, f: constant(int64(0))},
	{name: "pg_database_size", ret: functions.TInt, sigs: [][]argKind{oid1}, strict: true, f: constant(int64(0))},
	{name: "pg_size_pretty", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		return sizePretty(a[0].(int64)), nil
	}},
	{name: "quote_ident", ret: functions.TText, sigs: [][]argKind{sig(argText)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		return quoteIdent(a[0].(string)), nil
	}},
	// casts to and from the OID alias types
	{name: "regclassin", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(s *Snapshot, a []any) (any, error) { return s.regclassIn(a[0].(string)) }},
	{name: "regclassout", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(s *Snapshot, a []any) (any, error) { return s.RelationName(a[0].(int64)), nil }},
	{name: "to_regclass", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		oid, err := s.regclassIn(a[0].(string))
		if err != nil {
			return nil, nil
		}
		return oid, nil
	}},
	{name: "regtypein", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) { return regtypeIn(a[0].(string)) }},
	{name: "regtypeout", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		oid := a[0].(int64)
		if oid == 0 {
			return "-", nil
		}
		if _, ok := typesByOID[oid]; !ok {
			return itoa(oid), nil
		}
		return FormatType(oid, -1, false), nil
	}},
	{name: "to_regtype", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		oid, err := regtypeIn(a[0].(string))
		if err != nil {
			return nil, nil
		}
		return oid, nil
	}},
	{name: "regprocin", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(s *Snapshot, a []any) (any, error) { return s.regprocIn(a[0].(string)) }},
	{name: "ugnos_regproc_name", ret: functions.TText, sigs: [][]argKind{sig(argText)}, strict: true, f: func(s *Snapshot, a []any) (any, error) { return s.regprocName(a[0].(string)) }},
	{name: "regprocout", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(s *Snapshot, a []any) (any, error) { return s.regprocOut(a[0].(int64)), nil }},
	{name: "regnamespacein", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		if oid, ok := SchemaOID(unquote(a[0].(string))); ok {
			return oid, nil
		}
		return nil, errs.New(errs.ErrNotFound, "3F000", "schema %q does not exist", a[0])
	}},
	{name: "regnamespaceout", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(_ *Snapshot, a []any) (any, error) {
		for _, n := range schemas {
			if n.oid == a[0].(int64) {
				return quoteIdent(n.name), nil
			}
		}
		return itoa(a[0].(int64)), nil
	}},
	{name: "regrolein", ret: functions.TInt, sigs: [][]argKind{sig(argText)}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		if unquote(a[0].(string)) == s.user() {
			return int64(OIDSuperuser), nil
		}
		return nil, errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "role %q does not exist", a[0])
	}},
	{name: "regroleout", ret: functions.TText, sigs: [][]argKind{sig(argInt)}, strict: true, f: func(s *Snapshot, a []any) (any, error) {
		if a[0].(int64) == OIDSuperuser {
			return quoteIdent(s.user()), nil
		}
		return itoa(a[0].(int64)), nil
	}},
}

func sizePretty(n int64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB"}
	v, u := n, 0
	abs := func(x int64) int64 {
		if x < 0 {
			return -x
		}
		return x
	}
	for u < len(units)-1 && abs(v) >= 10*1024 {
		v = (v + 512*sign(v)) / 1024 // PostgreSQL rounds half away from zero
		u++
	}
	return fmt.Sprintf("%d %s", v, units[u])
}

func sign(x int64) int64 {
	if x < 0 {
		return -1
	}
	return 1
}

// unquote undoes quote_ident on one name; unquoted names fold to lower
// case as PostgreSQL's identifiers do.
func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return strings.ToLower(s)
}

// splitQualified splits "schema.name" (either part may be quoted).
func splitQualified(s string) (string, string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inQuote = !inQuote
		case '.':
			if !inQuote {
				return unquote(s[:i]), unquote(s[i+1:])
			}
		}
	}
	return "", unquote(s)
}

// hasPrivilege is has_table_privilege / has_database_privilege([user,]
// object, privileges): true when the user holds any of the privileges
// (a comma-separated list, WITH GRANT OPTION ignored), through
// Snapshot.Privilege. Catalog relations are readable by everyone.
func hasPrivilege(kind string) func(*Snapshot, []any) (any, error) {
	return func(s *Snapshot, a []any) (any, error) {
		user := ""
		if len(a) == 3 {
			switch u := a[0].(type) {
			case int64:
				if u != OIDSuperuser {
					user = itoa(u) // no role has it
					for _, ro := range s.Roles {
						if RoleOID(ro.Name) == u {
							user = ro.Name
						}
					}
				}
			case string:
				if u != s.user() {
					user = u
				}
			}
			a = a[1:]
		}
		var name string
		switch kind {
		case "table":
			oid, ok := a[0].(int64)
			if !ok {
				var err error
				if oid, err = s.regclassIn(fmt.Sprint(a[0])); err != nil {
					return nil, err
				}
			}
			for _, r := range catalogRelations {
				if r.oid == oid {
					return true, nil
				}
			}
			name = unquote(s.RelationName(oid))
		case "database":
			name = fmt.Sprint(a[0])
			if oid, ok := a[0].(int64); ok {
				for _, d := range s.Databases {
					if DatabaseOID(d) == oid {
						name = d
					}
				}
			}
		}
		if s.Privilege == nil {
			return true, nil
		}
		for _, p := range strings.Split(fmt.Sprint(a[1]), ",") {
			p = strings.ToLower(strings.TrimSpace(p))
			p = strings.TrimSpace(strings.TrimSuffix(p, "with grant option"))
			if s.Privilege(user, kind, name, p) {
				return true, nil
			}
		}
		return false, nil
	}
}

// regclassIn is 'name'::regclass: a number is taken as an OID, else the
// relation is looked up (42P01 if there is none).
func (s *Snapshot) regclassIn(text string) (int64, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64); err == nil {
		return n, nil
	}
	schema, name := splitQualified(text)
	if oid, ok := s.RelationOID(schema, name); ok {
		return oid, nil
	}
	return 0, errs.New(errs.ErrNotFound, errs.CodeUndefinedTable, "relation %q does not exist", text)
}

// typeNames maps format_type's names back to pg_type.typname.
var typeNames = map[string]string{}

func init() {
	for k, v := range standardNames {
		typeNames[v] = k
	}
	typeNames["int"] = "int4"
	typeNames["timestamptz"] = "timestamptz"
}

func regtypeIn(text string) (int64, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64); err == nil {
		return n, nil
	}
	_, name := splitQualified(text)
	if n, ok := typeNames[strings.ToLower(strings.TrimSpace(text))]; ok {
		name = n
	}
	array := strings.HasSuffix(name, "[]")
	name = strings.TrimSuffix(name, "[]")
	if n, ok := typeNames[name]; ok {
		name = n
	}
	if array {
		name = "_" + name
	}
	if oid, ok := TypeOID(name); ok {
		return oid, nil
	}
	return 0, errs.New(errs.ErrNotFound, errs.CodeUndefinedObject, "type %q does not exist", text)
}

func (s *Snapshot) procs() []Function {
	fns := append([]Function(nil), s.Functions...)
	sortFunctions(fns)
	return fns
}

func (s *Snapshot) regprocIn(text string) (int64, error) {
	if n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64); err == nil {
		return n, nil
	}
	_, name := splitQualified(text)
	for i, f := range s.procs() {
		if f.Name == name {
			return int64(8000 + i), nil
		}
	}
	return 0, errs.New(errs.ErrNotFound, "42883", "function %q does not exist", text)
}

// regprocName is 'name'::regproc where it is compared with the catalogs'
// regproc columns (pg_type.typinput, …), which hold function names: the
// unqualified name of a registered function or of a type's I/O function.
func (s *Snapshot) regprocName(text string) (string, error) {
	_, name := splitQualified(text)
	if _, err := s.regprocIn(text); err == nil {
		return name, nil
	}
	for _, row := range fixedRows["pg_catalog.pg_type"] {
		for _, col := range row[15:19] {
			if col == name {
				return name, nil
			}
		}
	}
	return "", errs.New(errs.ErrNotFound, "42883", "function %q does not exist", text)
}

func (s *Snapshot) regprocOut(oid int64) string {
	if oid == 0 {
		return "-"
	}
	fns := s.procs()
	if i := oid - 8000; i >= 0 && i < int64(len(fns)) {
		return fns[i].Name
	}
	return itoa(oid)
}

// jsonBuildObject is json_build_object(k1, v1, …) as json text (ugnos has
// no json type; the result is text).
func jsonBuildObject(_ *Snapshot, a []any) (any, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(a); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		if a[i] == nil {
			return nil, errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "null value not allowed for object key")
		}
		b.WriteString(strconv.Quote(fmt.Sprint(a[i])))
		b.WriteString(" : ")
		switch v := a[i+1].(type) {
		case nil:
			b.WriteString("null")
		case string:
			b.WriteString(strconv.Quote(v))
		default:
			b.WriteString(fmt.Sprint(v))
		}
	}
	b.WriteByte('}')
	return b.String(), nil
}
