package pgcatalog

import (
	"strings"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// formatFunc is PostgreSQL's format(formatstr, args...): %s (text), %I
// (quote_ident) and %L (quote_literal) with an optional argument
// position (n$), the - flag and a width; %% is a percent sign. It lives
// here because %I needs the keyword list. Widths taken from arguments
// (*) are not supported (0A000).
func formatFunc() *functions.Scalar {
	return &functions.Scalar{Name: "format", Resolve: func(a []functions.Type) (functions.Type, functions.Kernel, error) {
		if len(a) == 0 || a[0] != functions.TText {
			ts := make([]string, len(a))
			for i, t := range a {
				ts[i] = t.Name()
			}
			return 0, nil, errs.New(errs.ErrNotFound, "42883", "function format(%s) does not exist", strings.Join(ts, ", "))
		}
		return functions.TText, functions.RowKernel(functions.TText, func(args []functions.Vec, i int) (any, error) {
			if args[0].IsNull(i) {
				return nil, nil
			}
			vals := make([]*string, len(args)-1)
			for k, v := range args[1:] {
				if !v.IsNull(i) {
					s := functions.FormatValue(v.Value(i), a[k+1])
					vals[k] = &s
				}
			}
			return formatText(args[0].Str(i), vals)
		}), nil
	}}
}

func formatText(f string, args []*string) (string, error) {
	var b strings.Builder
	next := 0
	bad := func(msg string) error {
		return errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "%s", msg)
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteByte(f[i])
			continue
		}
		i++
		if i >= len(f) {
			return "", bad("unterminated format() type specifier")
		}
		if f[i] == '%' {
			b.WriteByte('%')
			continue
		}
		// [position$][flags][width]type
		arg := -1
		if n, j := digits(f, i); j > i && j < len(f) && f[j] == '$' {
			if n == 0 {
				return "", bad("format specifies argument 0, but arguments are numbered from 1")
			}
			arg, i = n-1, j+1
		}
		left := false
		for i < len(f) && f[i] == '-' {
			left, i = true, i+1
		}
		if i < len(f) && f[i] == '*' {
			return "", errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "format() widths from arguments (*) are not supported")
		}
		width, j := digits(f, i)
		i = j
		if i >= len(f) {
			return "", bad("unterminated format() type specifier")
		}
		if arg < 0 {
			arg = next
		}
		next = arg + 1
		if arg >= len(args) {
			return "", bad("too few arguments for format()")
		}
		v := args[arg]
		var out string
		switch f[i] {
		case 's':
			if v != nil {
				out = *v
			}
		case 'I':
			if v == nil {
				return "", errs.New(errs.ErrInvalidInput, "22004", "null values cannot be formatted as an SQL identifier")
			}
			out = quoteIdent(*v)
		case 'L':
			out = "NULL"
			if v != nil {
				out = quoteLiteral(*v)
			}
		default:
			return "", bad("unrecognized format() type specifier \"" + string(f[i]) + "\"")
		}
		if pad := width - len([]rune(out)); pad > 0 {
			if left {
				out += strings.Repeat(" ", pad)
			} else {
				out = strings.Repeat(" ", pad) + out
			}
		}
		b.WriteString(out)
	}
	return b.String(), nil
}

// digits reads a decimal number at f[i:], returning it and the index
// after it (i when there is none).
func digits(f string, i int) (int, int) {
	n, j := 0, i
	for j < len(f) && f[j] >= '0' && f[j] <= '9' && n < 1<<20 {
		n = n*10 + int(f[j]-'0')
		j++
	}
	return n, j
}

// quoteLiteral is PostgreSQL's quote_literal: single quotes doubled, and
// an E” string with doubled backslashes when there are backslashes.
func quoteLiteral(s string) string {
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		return "E" + strings.ReplaceAll(q, `\`, `\\`)
	}
	return q
}
