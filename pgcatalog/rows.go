package pgcatalog

import (
	"strconv"
	"strings"

	"github.com/ugnos/ugnos/functions"
)

// rowset accumulates the rows of one relation; columns not set take the
// defaults of their type (see zero).
type rowset struct {
	cols  []colDef
	types []functions.Type
	idx   map[string]int
	rows  [][]any
}

func newRowset(rel string) *rowset {
	cols, _ := columnsOf(rel)
	r := &rowset{cols: cols, idx: make(map[string]int, len(cols)), types: make([]functions.Type, len(cols))}
	for i, c := range cols {
		r.idx[c.name] = i
		r.types[i], _ = sqlType(c.typ)
	}
	return r
}

// zero is a column's value when a row does not set it: false, 0, the
// empty string for name and "char" columns, NULL otherwise (text, arrays,
// expressions, timestamps, the information schema's columns).
func zero(typ string) any {
	switch typ {
	case "bool":
		return false
	case "int2", "int4", "int8", "oid", "xid", "float4", "float8":
		if typ == "float4" || typ == "float8" {
			return float64(0)
		}
		return int64(0)
	case "name", "char":
		return ""
	case "regproc":
		return "-"
	}
	return nil
}

// add appends a row from name/value pairs. Values are nil, bool, int,
// int64, float64, string or, for array columns, []string / []int64 (sent
// in PostgreSQL's array form).
func (r *rowset) add(kv ...any) {
	row := make([]any, len(r.cols))
	for i, c := range r.cols {
		row[i] = zero(c.typ)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i].(string)
		j, ok := r.idx[name]
		if !ok {
			panic("BUG: pgcatalog: no column " + name)
		}
		row[j] = norm(kv[i+1])
	}
	r.rows = append(r.rows, row)
}

func norm(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case []string:
		return arrayText(x)
	case []int64:
		s := make([]string, len(x))
		for i, n := range x {
			s[i] = strconv.FormatInt(n, 10)
		}
		return arrayText(s)
	}
	return v
}

// arrayText is PostgreSQL's output form of a one-dimensional array.
func arrayText(elems []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(quoteArrayElem(e))
	}
	b.WriteByte('}')
	return b.String()
}

func quoteArrayElem(e string) string {
	if e == "" || strings.EqualFold(e, "null") || strings.ContainsAny(e, "{},\"\\ \t\n") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(e) + `"`
	}
	return e
}

// addText appends a row given as PostgreSQL text output ("\x00": NULL).
func (r *rowset) addText(vals []string) {
	row := make([]any, len(r.cols))
	for i, c := range r.cols {
		if i >= len(vals) || vals[i] == "\x00" {
			continue
		}
		row[i] = parseText(c.typ, r.types[i], vals[i])
	}
	r.rows = append(r.rows, row)
}

func parseText(typ string, t functions.Type, s string) any {
	switch t {
	case functions.TBool:
		return s == "true" || s == "t"
	case functions.TInt:
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	case functions.TFloat:
		f, _ := strconv.ParseFloat(s, 64)
		return f
	case functions.TText:
		return s
	}
	v, err := functions.ParseText(s, t)
	if err != nil {
		return nil
	}
	return v
}
