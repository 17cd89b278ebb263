package functions

import (
	"strconv"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

// Arrays. ugnos has no array type: an array value is text in PostgreSQL's
// output form ('{a,"b c",NULL}', or '1 2 3' for int2vector/oidvector), as
// the system catalogs hold and PostgreSQL sends it. The functions here read
// and build that form; the planner knows which expressions are arrays.

func errArray(s string) error {
	return errs.New(errs.ErrInvalidInput, errs.CodeInvalidText, "malformed array literal: %q", s)
}

// ParseArrayText parses a one-dimensional array in PostgreSQL's text form
// (or the space-separated form of int2vector and oidvector); nil elements
// are NULL.
func ParseArrayText(s string) ([]*string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		var out []*string
		for _, f := range strings.Fields(s) {
			f := f
			out = append(out, &f)
		}
		return out, nil
	}
	if !strings.HasSuffix(s, "}") {
		return nil, errArray(s)
	}
	body := s[1 : len(s)-1]
	var out []*string
	if strings.TrimSpace(body) == "" {
		return out, nil
	}
	for i := 0; i <= len(body); {
		for i < len(body) && body[i] == ' ' {
			i++
		}
		var b strings.Builder
		quoted := false
		if i < len(body) && body[i] == '"' {
			quoted = true
			i++
			for ; i < len(body) && body[i] != '"'; i++ {
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
			}
			if i >= len(body) {
				return nil, errArray(s)
			}
			i++
		} else {
			for ; i < len(body) && body[i] != ','; i++ {
				if body[i] == '{' || body[i] == '"' {
					return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "multidimensional arrays are not supported")
				}
				if body[i] == '\\' && i+1 < len(body) {
					i++
				}
				b.WriteByte(body[i])
			}
		}
		v := b.String()
		if !quoted {
			v = strings.TrimRight(v, " ")
		}
		if !quoted && strings.EqualFold(v, "null") {
			out = append(out, nil)
		} else {
			out = append(out, &v)
		}
		for i < len(body) && body[i] == ' ' {
			i++
		}
		if i < len(body) && body[i] != ',' {
			return nil, errArray(s)
		}
		i++
	}
	return out, nil
}

// FormatArrayText is the text form of a one-dimensional array.
func FormatArrayText(elems []*string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		switch {
		case e == nil:
			b.WriteString("NULL")
		case *e == "" || strings.EqualFold(*e, "null") || strings.ContainsAny(*e, "{},\"\\ \t\n"):
			b.WriteString(`"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(*e) + `"`)
		default:
			b.WriteString(*e)
		}
	}
	b.WriteByte('}')
	return b.String()
}

func arrayArg(v Vec, i int) ([]*string, error) { return ParseArrayText(v.Str(i)) }

// elemEqual compares x (row i of v) with an array element's text.
func elemEqual(v Vec, i int, elem string) (bool, error) {
	switch v.T {
	case TText:
		return v.Str(i) == elem, nil
	case TInt:
		n, err := strconv.ParseInt(strings.TrimSpace(elem), 10, 64)
		if err != nil {
			return false, errs.New(errs.ErrInvalidInput, errs.CodeInvalidText, "invalid input syntax for type bigint: %q", elem)
		}
		return v.Int(i) == n, nil
	case TFloat:
		f, err := strconv.ParseFloat(strings.TrimSpace(elem), 64)
		if err != nil {
			return false, errs.New(errs.ErrInvalidInput, errs.CodeInvalidText, "invalid input syntax for type double precision: %q", elem)
		}
		return v.Float(i) == f, nil
	}
	p, err := ParseText(elem, v.T)
	if err != nil {
		return false, err
	}
	return v.Value(i) == p, nil
}

// anyCompare is x = ANY (a) (eq) or x <> ANY (a): true when an element
// matches, else NULL when x or an element is NULL, else false.
func anyCompare(eq bool) Kernel {
	return RowKernel(TBool, func(args []Vec, i int) (any, error) {
		if args[1].IsNull(i) {
			return nil, nil
		}
		elems, err := arrayArg(args[1], i)
		if err != nil {
			return nil, err
		}
		if args[0].IsNull(i) {
			if len(elems) == 0 {
				return false, nil
			}
			return nil, nil
		}
		sawNull := false
		for _, e := range elems {
			if e == nil {
				sawNull = true
				continue
			}
			ok, err := elemEqual(args[0], i, *e)
			if err != nil {
				return nil, err
			}
			if ok == eq {
				return true, nil
			}
		}
		if sawNull {
			return nil, nil
		}
		return false, nil
	})
}

func textArgs(name string, a []Type, min, max int) error {
	if len(a) < min || len(a) > max {
		return noFunc(name, a)
	}
	for _, t := range a {
		if t != TText {
			return noFunc(name, a)
		}
	}
	return nil
}

func arrayScalars() []*Scalar {
	return append(arrayScalarsBase(), arraySubscript(), stringToArray(), expandArray("_pg_expandarray", TText), expandArray("_pg_expandarray_field", TInt), arrayConcat("array_cat", true, true),
		arrayConcat("array_append", true, false), arrayConcat("array_prepend", false, true))
}

// arrayConcat is array || array (array_cat), array || element
// (array_append) and element || array (array_prepend) over arrays in text
// form. A NULL array counts as empty; a NULL element is appended as NULL.
func arrayConcat(name string, leftArr, rightArr bool) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 || a[0] != TText || a[1] != TText {
			return 0, nil, noFunc(name, a)
		}
		return TText, func(args []Vec, n int) (Vec, error) {
			vals := make([]any, n)
			for i := 0; i < n; i++ {
				var out []*string
				nulls := 0
				for k, isArr := range []bool{leftArr, rightArr} {
					v := args[k]
					switch {
					case isArr && v.IsNull(i):
						nulls++
					case isArr:
						elems, err := arrayArg(v, i)
						if err != nil {
							return Vec{}, err
						}
						out = append(out, elems...)
					case v.IsNull(i):
						out = append(out, nil)
					default:
						s := v.Str(i)
						out = append(out, &s)
					}
				}
				if nulls == 2 {
					continue // NULL || NULL; one NULL array counts as empty
				}
				vals[i] = FormatArrayText(out)
			}
			if allConst(args) {
				return ConstVec(vals[0], TText, n), nil
			}
			return ArrVec(NewOf(TText, vals), TText), nil
		}, nil
	}}
}

func arrayScalarsBase() []*Scalar {
	dim := func(name string, f func(n int) any) *Scalar {
		return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 || a[0] != TText || a[1] != TInt {
				if !(name == "cardinality" && len(a) == 1 && a[0] == TText) {
					return 0, nil, noFunc(name, a)
				}
			}
			return TInt, RowKernel(TInt, func(args []Vec, i int) (any, error) {
				if args[0].IsNull(i) || len(args) > 1 && args[1].IsNull(i) {
					return nil, nil
				}
				elems, err := arrayArg(args[0], i)
				if err != nil {
					return nil, err
				}
				if len(args) > 1 && args[1].Int(i) != 1 || len(elems) == 0 && name != "cardinality" {
					return nil, nil
				}
				return f(len(elems)), nil
			}), nil
		}}
	}
	return []*Scalar{
		// ugnos_array(elemtype, e1, …) builds ARRAY[e1, …] from elements as text
		{Name: "ugnos_array", Resolve: func(a []Type) (Type, Kernel, error) {
			if err := textArgs("ugnos_array", a, 1, 1<<16); err != nil {
				return 0, nil, err
			}
			return TText, RowKernel(TText, func(args []Vec, i int) (any, error) {
				elems := make([]*string, len(args)-1)
				for k, v := range args[1:] {
					if !v.IsNull(i) {
						s := v.Str(i)
						elems[k] = &s
					}
				}
				return FormatArrayText(elems), nil
			}), nil
		}},
		{Name: "ugnos_array_any_eq", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 || a[1] != TText {
				return 0, nil, noFunc("ANY", a)
			}
			return TBool, anyCompare(true), nil
		}},
		{Name: "ugnos_array_any_ne", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 || a[1] != TText {
				return 0, nil, noFunc("ANY", a)
			}
			return TBool, anyCompare(false), nil
		}},
		{Name: "array_to_string", Resolve: func(a []Type) (Type, Kernel, error) {
			if err := textArgs("array_to_string", a, 2, 3); err != nil {
				return 0, nil, err
			}
			return TText, RowKernel(TText, func(args []Vec, i int) (any, error) {
				if args[0].IsNull(i) || args[1].IsNull(i) {
					return nil, nil
				}
				elems, err := arrayArg(args[0], i)
				if err != nil {
					return nil, err
				}
				var parts []string
				for _, e := range elems {
					switch {
					case e != nil:
						parts = append(parts, *e)
					case len(args) > 2 && !args[2].IsNull(i):
						parts = append(parts, args[2].Str(i))
					}
				}
				return strings.Join(parts, args[1].Str(i)), nil
			}), nil
		}},
		dim("array_length", func(n int) any { return int64(n) }),
		dim("array_upper", func(n int) any { return int64(n) }),
		dim("array_lower", func(n int) any { return int64(1) }),
		dim("cardinality", func(n int) any { return int64(n) }),
	}
}

// arraySubscript is arr[i] over an array in text form (1-based; NULL out
// of bounds). The element has no type of its own (ugnos holds arrays as
// text), so it comes out untyped, like a quoted literal, and takes the
// type of what it is compared with or cast to.
func arraySubscript() *Scalar {
	return &Scalar{Name: "array_subscript", Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 || (a[0] != TText && a[0] != TUnknown) || a[1] != TInt {
			return 0, nil, noFunc("array_subscript", a)
		}
		return TUnknown, func(args []Vec, n int) (Vec, error) {
			vals := make([]any, n)
			for i := 0; i < n; i++ {
				if args[0].IsNull(i) || args[1].IsNull(i) {
					continue
				}
				elems, err := arrayArg(args[0], i)
				if err != nil {
					return Vec{}, err
				}
				k := args[1].Int(i)
				if k >= 1 && k <= int64(len(elems)) && elems[k-1] != nil {
					vals[i] = *elems[k-1]
				}
			}
			if allConst(args) {
				return ConstVec(vals[0], TUnknown, n), nil
			}
			v := ArrVec(NewOf(TText, vals), TUnknown)
			return v, nil
		}, nil
	}}
}

// stringToArray is string_to_array(text, delimiter [, null string]): a
// NULL delimiter splits into characters, an empty one gives the whole
// string, an empty input an empty array.
func stringToArray() *Scalar {
	return &Scalar{Name: "string_to_array", Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) < 2 || len(a) > 3 {
			return 0, nil, noFunc("string_to_array", a)
		}
		for _, t := range a {
			if t != TText && t != TUnknown {
				return 0, nil, noFunc("string_to_array", a)
			}
		}
		return TText, func(args []Vec, n int) (Vec, error) {
			vals := make([]any, n)
			for i := 0; i < n; i++ {
				if args[0].IsNull(i) {
					continue
				}
				s := args[0].Str(i)
				var parts []string
				switch {
				case s == "":
				case args[1].IsNull(i):
					for _, r := range s {
						parts = append(parts, string(r))
					}
				case args[1].Str(i) == "":
					parts = []string{s}
				default:
					parts = strings.Split(s, args[1].Str(i))
				}
				elems := make([]*string, len(parts))
				for k := range parts {
					p := parts[k]
					if len(args) == 3 && !args[2].IsNull(i) && p == args[2].Str(i) {
						continue
					}
					elems[k] = &p
				}
				vals[i] = FormatArrayText(elems)
			}
			if allConst(args) {
				return ConstVec(vals[0], TText, n), nil
			}
			return ArrVec(NewOf(TText, vals), TText), nil
		}, nil
	}}
}

// expandArray stands for information_schema._pg_expandarray(array) and its
// fields, a set-returning function pgjdbc's getPrimaryKeys puts in a select
// list over pg_index. ugnos has no indexes, so such queries reach it with
// no rows and are answered (empty); on any row it fails with 0A000 rather
// than return a wrong answer, since set-returning functions in the select
// list are not supported.
func expandArray(name string, t Type) *Scalar {
	return &Scalar{Name: name, Volatile: true, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 1 || a[0] != TText && a[0] != TUnknown {
			return 0, nil, noFunc("_pg_expandarray", a)
		}
		return t, func(args []Vec, n int) (Vec, error) {
			for i := 0; i < n; i++ {
				if !args[0].IsNull(i) {
					return Vec{}, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "set-returning function _pg_expandarray in the select list is not supported")
				}
			}
			return ConstVec(nil, t, n), nil
		}, nil
	}}
}
