package functions

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ugnos/ugnos/errs"
)

// likeToRegexp translates a LIKE pattern (with \ as the escape) to a
// regular expression.
func likeToRegexp(p string, fold bool) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	if fold {
		b.WriteString("(?is)")
	} else {
		b.WriteString("(?s)")
	}
	for i := 0; i < len(p); {
		r, size := utf8.DecodeRuneInString(p[i:])
		i += size
		switch r {
		case '\\':
			if i >= len(p) {
				return nil, errs.New(errs.ErrInvalidInput, "22025", "LIKE pattern must not end with escape character")
			}
			r2, s2 := utf8.DecodeRuneInString(p[i:])
			i += s2
			b.WriteString(regexp.QuoteMeta(string(r2)))
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// LikeMatcher returns a matcher for a LIKE (or, with fold, ILIKE) pattern.
func LikeMatcher(pattern string, fold bool) (func(string) bool, error) {
	re, err := likeToRegexp(pattern, fold)
	if err != nil {
		return nil, err
	}
	return re.MatchString, nil
}

// patternCache memoises compiled patterns of one kernel.
type patternCache struct {
	mu sync.Mutex
	m  map[string]*regexp.Regexp
}

func (c *patternCache) get(p string, compile func(string) (*regexp.Regexp, error)) (*regexp.Regexp, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if re, ok := c.m[p]; ok {
		return re, nil
	}
	re, err := compile(p)
	if err != nil {
		return nil, err
	}
	if c.m == nil || len(c.m) > 256 {
		c.m = map[string]*regexp.Regexp{}
	}
	c.m[p] = re
	return re, nil
}

// matcher is LIKE/ILIKE ("~~", "~~*") or a POSIX regex match ("~", "~*"),
// negated with a leading "!".
func matcher(name string) *Scalar {
	neg := strings.HasPrefix(name, "!")
	op := strings.TrimPrefix(name, "!")
	fold := strings.HasSuffix(op, "*")
	like := strings.HasPrefix(op, "~~")
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 || a[0] != TText || a[1] != TText {
			return 0, nil, noOp(name, a)
		}
		cache := &patternCache{}
		compile := func(p string) (*regexp.Regexp, error) {
			if like {
				return likeToRegexp(p, fold)
			}
			if fold {
				p = "(?i)" + p
			}
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, errs.New(errs.ErrInvalidInput, "2201B", "invalid regular expression: %v", err)
			}
			return re, nil
		}
		return TBool, func(args []Vec, n int) (Vec, error) {
			var fail error
			v := outBool(args, n, func(i int) bool {
				re, err := cache.get(args[1].Str(i), compile)
				if err != nil {
					fail = err
					return false
				}
				return re.MatchString(args[0].Str(i)) != neg
			})
			return v, fail
		}, nil
	}}
}

func text2(name string, ret Type, f func(a, b string) (any, error)) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 || a[0] != TText || a[1] != TText {
			return 0, nil, noFunc(name, a)
		}
		return ret, func(args []Vec, n int) (Vec, error) {
			if ret == TBool {
				var fail error
				v := outBool(args, n, func(i int) bool {
					r, err := f(args[0].Str(i), args[1].Str(i))
					if err != nil {
						fail = err
					}
					b, _ := r.(bool)
					return b
				})
				return v, fail
			}
			if ret == TInt {
				return outInt(TInt, args, n, func(i int) (int64, error) {
					r, err := f(args[0].Str(i), args[1].Str(i))
					x, _ := r.(int64)
					return x, err
				})
			}
			return outText(args, n, func(i int) (string, error) {
				r, err := f(args[0].Str(i), args[1].Str(i))
				s, _ := r.(string)
				return s, err
			})
		}, nil
	}}
}

func runeSlice(s string, from, count int64, hasCount bool) string {
	rs := []rune(s)
	start := from - 1 // 1-based; may be before the string
	end := int64(len(rs))
	if hasCount {
		end = start + count
	}
	start = max(start, 0)
	end = min(end, int64(len(rs)))
	if start >= end {
		return ""
	}
	return string(rs[start:end])
}

func stringFuncs() []*Scalar {
	return []*Scalar{
		matcher("~~"), matcher("!~~"), matcher("~~*"), matcher("!~~*"),
		matcher("~"), matcher("!~"), matcher("~*"), matcher("!~*"),
		text2("strpos", TInt, func(a, b string) (any, error) {
			i := strings.Index(a, b)
			if i < 0 {
				return int64(0), nil
			}
			return int64(utf8.RuneCountInString(a[:i]) + 1), nil
		}),
		text2("starts_with", TBool, func(a, b string) (any, error) { return strings.HasPrefix(a, b), nil }),
		text1("reverse", TText, func(s string) any {
			rs := []rune(s)
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			return string(rs)
		}),
		trimFunc("trim", strings.Trim),
		trimFunc("btrim", strings.Trim),
		trimFunc("ltrim", strings.TrimLeft),
		trimFunc("rtrim", strings.TrimRight),
		text1("initcap", TText, func(s string) any {
			rs := []rune(strings.ToLower(s))
			up := true
			for i, r := range rs {
				if up && (r >= 'a' && r <= 'z') {
					rs[i] = r - 32
				}
				up = !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			}
			return string(rs)
		}),
		text1("octet_length", TInt, func(s string) any { return int64(len(s)) }),
		{Name: "substr", Resolve: resolveSubstr("substr")},
		{Name: "substring", Resolve: resolveSubstr("substring")},
		{Name: "left", Resolve: leftRight("left")},
		{Name: "right", Resolve: leftRight("right")},
		{Name: "repeat", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 || a[0] != TText || a[1] != TInt {
				return 0, nil, noFunc("repeat", a)
			}
			return TText, func(args []Vec, n int) (Vec, error) {
				return outText(args, n, func(i int) (string, error) {
					k := args[1].Int(i)
					if k <= 0 || args[0].Str(i) == "" {
						return "", nil
					}
					if k > (1<<28)/int64(len(args[0].Str(i))) { // k*len could wrap
						return "", errs.New(errs.ErrInvalidInput, "54000", "requested length too large")
					}
					return strings.Repeat(args[0].Str(i), int(k)), nil
				})
			}, nil
		}},
		{Name: "replace", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 3 || a[0] != TText || a[1] != TText || a[2] != TText {
				return 0, nil, noFunc("replace", a)
			}
			return TText, func(args []Vec, n int) (Vec, error) {
				return outText(args, n, func(i int) (string, error) {
					if args[1].Str(i) == "" {
						return args[0].Str(i), nil
					}
					return strings.ReplaceAll(args[0].Str(i), args[1].Str(i), args[2].Str(i)), nil
				})
			}, nil
		}},
		{Name: "split_part", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 3 || a[0] != TText || a[1] != TText || a[2] != TInt {
				return 0, nil, noFunc("split_part", a)
			}
			return TText, func(args []Vec, n int) (Vec, error) {
				return outText(args, n, func(i int) (string, error) {
					k := args[2].Int(i)
					if k == 0 {
						return "", errs.New(errs.ErrInvalidInput, "22023", "field position must not be zero")
					}
					parts := []string{args[0].Str(i)}
					if d := args[1].Str(i); d != "" {
						parts = strings.Split(args[0].Str(i), d)
					}
					if k < 0 {
						k = int64(len(parts)) + k + 1
					}
					if k < 1 || k > int64(len(parts)) {
						return "", nil
					}
					return parts[k-1], nil
				})
			}, nil
		}},
		{Name: "concat_ws", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) < 1 || a[0] != TText {
				return 0, nil, noFunc("concat_ws", a)
			}
			return TText, func(args []Vec, n int) (Vec, error) {
				vals := make([]string, n)
				valid := NewValid(n)
				for i := 0; i < n; i++ {
					if args[0].IsNull(i) {
						valid.SetNull(i)
						continue
					}
					var parts []string
					for k, v := range args[1:] {
						if !v.IsNull(i) {
							parts = append(parts, FormatValue(v.Value(i), a[k+1]))
						}
					}
					vals[i] = strings.Join(parts, args[0].Str(i))
				}
				return ArrVec(NewText(vals, valid), TText), nil
			}, nil
		}},
		{Name: "concat", Resolve: func(a []Type) (Type, Kernel, error) {
			return TText, func(args []Vec, n int) (Vec, error) {
				vals := make([]string, n)
				for i := 0; i < n; i++ {
					var b strings.Builder
					for k, v := range args {
						if !v.IsNull(i) {
							b.WriteString(FormatValue(v.Value(i), a[k]))
						}
					}
					vals[i] = b.String()
				}
				return ArrVec(NewText(vals, nil), TText), nil
			}, nil
		}},
	}
}

func resolveSubstr(name string) func(a []Type) (Type, Kernel, error) {
	return func(a []Type) (Type, Kernel, error) {
		if len(a) < 2 || len(a) > 3 || a[0] != TText || a[1] != TInt || (len(a) == 3 && a[2] != TInt) {
			return 0, nil, noFunc(name, a)
		}
		return TText, func(args []Vec, n int) (Vec, error) {
			return outText(args, n, func(i int) (string, error) {
				if len(args) == 3 {
					c := args[2].Int(i)
					if c < 0 {
						return "", errs.New(errs.ErrInvalidInput, "22011", "negative substring length not allowed")
					}
					return runeSlice(args[0].Str(i), args[1].Int(i), c, true), nil
				}
				return runeSlice(args[0].Str(i), args[1].Int(i), 0, false), nil
			})
		}, nil
	}
}

func leftRight(name string) func(a []Type) (Type, Kernel, error) {
	return func(a []Type) (Type, Kernel, error) {
		if len(a) != 2 || a[0] != TText || a[1] != TInt {
			return 0, nil, noFunc(name, a)
		}
		return TText, func(args []Vec, n int) (Vec, error) {
			return outText(args, n, func(i int) (string, error) {
				rs := []rune(args[0].Str(i))
				k := args[1].Int(i)
				if k < 0 {
					k = max(int64(len(rs))+k, 0)
				}
				k = min(k, int64(len(rs)))
				if name == "left" {
					return string(rs[:k]), nil
				}
				return string(rs[int64(len(rs))-k:]), nil
			})
		}, nil
	}
}

// datePart extracts a field from a timestamp (UTC) as PostgreSQL's
// date_part does (double precision).
func datePart(field string, ns int64) (float64, error) {
	t := time.Unix(0, ns).UTC()
	switch strings.ToLower(field) {
	case "epoch":
		return float64(ns) / 1e9, nil
	case "year":
		return float64(t.Year()), nil
	case "month":
		return float64(t.Month()), nil
	case "day":
		return float64(t.Day()), nil
	case "hour":
		return float64(t.Hour()), nil
	case "minute":
		return float64(t.Minute()), nil
	case "second":
		return float64(t.Second()) + float64(t.Nanosecond()/1000)/1e6, nil
	case "milliseconds":
		return float64(t.Second())*1e3 + float64(t.Nanosecond()/1000)/1e3, nil
	case "microseconds":
		return float64(t.Second())*1e6 + float64(t.Nanosecond()/1000), nil
	case "dow":
		return float64(t.Weekday()), nil
	case "isodow":
		return float64((int(t.Weekday())+6)%7 + 1), nil
	case "doy":
		return float64(t.YearDay()), nil
	case "week":
		_, w := t.ISOWeek()
		return float64(w), nil
	case "isoyear":
		y, _ := t.ISOWeek()
		return float64(y), nil
	case "quarter":
		return float64((int(t.Month())-1)/3 + 1), nil
	case "decade":
		return math.Floor(float64(t.Year()) / 10), nil
	case "century":
		y := t.Year()
		if y > 0 {
			return float64((y + 99) / 100), nil
		}
		return float64(-((99 - y) / 100)), nil
	case "timezone", "timezone_hour", "timezone_minute":
		return 0, nil
	}
	return 0, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "unit %q not supported for type timestamp with time zone", field)
}

func moreTimeFuncs() []*Scalar {
	part := func(name string) *Scalar {
		return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) == 2 && a[0] == TText && a[1] == TInterval {
				return TFloat, func(args []Vec, n int) (Vec, error) {
					return outFloat(args, n, func(i int) (float64, error) { return IntervalPart(args[0].Str(i), args[1].Interval(i)) })
				}, nil
			}
			if len(a) != 2 || a[0] != TText || a[1] != TTimestamp {
				return 0, nil, noFunc(name, a)
			}
			return TFloat, func(args []Vec, n int) (Vec, error) {
				return outFloat(args, n, func(i int) (float64, error) { return datePart(args[0].Str(i), args[1].Int(i)) })
			}, nil
		}}
	}
	return []*Scalar{part("date_part"), {Name: "extract", Resolve: resolveExtract}}
}

// resolveExtract: EXTRACT(field FROM x) returns numeric in PostgreSQL 15:
// epoch and second with 6 decimals, milliseconds with 3, other fields
// whole numbers; from a date, whole numbers only and no time fields.
func resolveExtract(a []Type) (Type, Kernel, error) {
	if len(a) != 2 || a[0] != TText || a[1] != TTimestamp && a[1] != TInterval && a[1] != TDate {
		return 0, nil, noFunc("extract", a)
	}
	t := a[1]
	return TNumeric, func(args []Vec, n int) (Vec, error) {
		return outNumeric(args, n, func(i int) (Decimal, error) {
			field := strings.ToLower(args[0].Str(i))
			var f float64
			var err error
			switch t {
			case TTimestamp:
				ns := args[1].Int(i)
				switch field {
				case "epoch":
					return fixedDecimal(floorDiv(ns, 1000), 6)
				case "second":
					return fixedDecimal(floorDiv(ns, 1000)-floorDiv(ns, 60e9)*60e6, 6)
				case "milliseconds":
					return fixedDecimal(floorDiv(ns, 1000)-floorDiv(ns, 60e9)*60e6, 3)
				}
				f, err = datePart(field, ns)
			case TInterval:
				iv := args[1].Interval(i)
				us := iv.Nanos / 1000
				switch field {
				case "epoch":
					// years as 365.25 days, months as 30, days as 24 h,
					// counted in quarter days to stay integral
					secs := (1461*int64(iv.Months/12) + 120*int64(iv.Months%12) + 4*int64(iv.Days)) * 21600
					return fixedDecimal(secs*1e6+us, 6)
				case "second", "seconds":
					return fixedDecimal(us%60e6, 6)
				case "milliseconds", "millisecond":
					return fixedDecimal(us%60e6, 3)
				}
				f, err = IntervalPart(field, iv)
			default: // date
				d := args[1].Int(i)
				switch field {
				case "epoch":
					return DecimalFromInt(d * 86400), nil
				case "hour", "minute", "second", "milliseconds", "microseconds", "timezone", "timezone_hour", "timezone_minute":
					return Decimal{}, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "unit %q not supported for type date", field)
				}
				f, err = datePart(field, d*nsPerDay)
			}
			if err != nil {
				return Decimal{}, err
			}
			return DecimalFromInt(int64(f)), nil
		})
	}, nil
}

// fixedDecimal is units / 10^6 shown with scale decimals (units are µs;
// scale 3 divides to ms first).
func fixedDecimal(us int64, scale int) (Decimal, error) {
	neg := us < 0
	if neg {
		us = -us
	}
	s := strconv.FormatInt(us, 10)
	for len(s) < 7 {
		s = "0" + s
	}
	txt := s[:len(s)-6] + "." + s[len(s)-6:]
	if scale == 3 { // milliseconds: µs / 1000 with 3 decimals
		s = strconv.FormatInt(us, 10)
		for len(s) < 4 {
			s = "0" + s
		}
		txt = s[:len(s)-3] + "." + s[len(s)-3:]
	}
	if neg {
		txt = "-" + txt
	}
	return ParseDecimal(txt)
}

func moreMathFuncs() []*Scalar {
	return []*Scalar{
		numeric1("sign", func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x
		}, func(x int64) (int64, error) {
			switch {
			case x > 0:
				return 1, nil
			case x < 0:
				return -1, nil
			}
			return 0, nil
		}),
		numeric1("cbrt", math.Cbrt, nil),
		numeric1("degrees", func(x float64) float64 { return x * 180 / math.Pi }, nil),
		numeric1("radians", func(x float64) float64 { return x * math.Pi / 180 }, nil),
		{Name: "pi", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 0 {
				return 0, nil, noFunc("pi", a)
			}
			return TFloat, func(args []Vec, n int) (Vec, error) { return ConstVec(math.Pi, TFloat, n), nil }, nil
		}},
		{Name: "mod", Resolve: func(a []Type) (Type, Kernel, error) {
			t, k, err := arith("%").Resolve(a)
			if err != nil {
				return 0, nil, noFunc("mod", a)
			}
			return t, k, nil
		}},
		{Name: "log", Resolve: func(a []Type) (Type, Kernel, error) {
			switch {
			case len(a) == 1 && a[0].Numeric():
				return TFloat, func(args []Vec, n int) (Vec, error) {
					return outFloat(args, n, func(i int) (float64, error) {
						x := args[0].Float(i)
						if err := domain("log10", x); err != nil {
							return 0, err
						}
						return math.Log10(x), nil
					})
				}, nil
			case len(a) == 2 && a[0].Numeric() && a[1].Numeric():
				return TFloat, func(args []Vec, n int) (Vec, error) {
					return outFloat(args, n, func(i int) (float64, error) {
						b, x := args[0].Float(i), args[1].Float(i)
						if err := domain("ln", b); err != nil {
							return 0, err
						}
						if err := domain("ln", x); err != nil {
							return 0, err
						}
						if b == 1 {
							return 0, errDivZero
						}
						return math.Log(x) / math.Log(b), nil
					})
				}, nil
			}
			return 0, nil, noFunc("log", a)
		}},
	}
}

// trimFunc is btrim/ltrim/rtrim(text [, characters]): the characters
// (default a space) removed from both ends, the start or the end.
func trimFunc(name string, trim func(s, cutset string) string) *Scalar {
	return &Scalar{Name: name, Resolve: func(a []Type) (Type, Kernel, error) {
		if len(a) < 1 || len(a) > 2 || a[0] != TText || len(a) == 2 && a[1] != TText {
			return 0, nil, noFunc(name, a)
		}
		return TText, func(args []Vec, n int) (Vec, error) {
			return outText(args, n, func(i int) (string, error) {
				cut := " "
				if len(args) == 2 {
					cut = args[1].Str(i)
				}
				return trim(args[0].Str(i), cut), nil
			})
		}, nil
	}}
}
