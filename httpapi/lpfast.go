package httpapi

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unsafe"

	lp "github.com/influxdata/line-protocol/v2/lineprotocol"
)

// The fast decoder handles the line protocol that clients send nearly
// always: ASCII, no backslash escapes, single spaces between sections.
// Anything else — and every syntax error — makes it give up
// (errSlow), and the request is decoded again by the library's Decoder
// (lpBatch.decode), whose result and error messages are the reference.
// TestFastMatchesLibrary checks that both decode the same lines alike.
// On TSBS cpu-only lines it is about 4x faster than the library
// (BenchmarkDecode).

var errSlow = errors.New("line needs the full decoder")

// maxSeriesCache bounds the tag sections a table caches per request.
const maxSeriesCache = 1 << 14

// class of each byte in a name (measurement, tag key/value, field key):
// 0 ordinary, 1 a separator (',', ' ', '='), 2 the fast path gives up.
var nameClass = func() (t [256]byte) {
	for c := 0; c < 256; c++ {
		if c < 0x20 || c == 0x7f || c >= 0x80 || c == '\\' {
			t[c] = 2
		}
	}
	t[','], t[' '], t['='] = 1, 1, 1
	return
}()

// decodeFast decodes body into b, or returns errSlow (b is then partly
// filled and must be reset) or a *lineError for a semantic error.
func (b *lpBatch) decodeFast(body []byte) error {
	line := 0
	for len(body) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			l, body = body[:i], body[i+1:]
		} else {
			l, body = body, nil
		}
		if err := b.fastLine(l, line); err != nil {
			return err
		}
	}
	return nil
}

// scanName returns the length of the name at the start of s, ended by a
// separator or the end, or -1 if the fast path must give up.
func scanName(s []byte) int {
	for i, c := range s {
		switch nameClass[c] {
		case 1:
			return i
		case 2:
			return -1
		}
	}
	return len(s)
}

func (b *lpBatch) fastLine(l []byte, line int) error {
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	i := 0
	for i < len(l) && l[i] == ' ' {
		i++
	}
	if i == len(l) {
		return nil // blank
	}
	if l[i] == '#' {
		for _, c := range l[i:] {
			if c < 0x20 || c == 0x7f {
				return errSlow
			}
		}
		return nil
	}
	semantic := func(err error) error {
		if errors.Is(err, errSlow) {
			return err
		}
		return &lineError{line: line, msg: err.Error()}
	}
	l = l[i:]
	n := scanName(l)
	if n <= 0 || n == len(l) || l[n] == '=' {
		return errSlow
	}
	t, err := b.table(l[:n], line)
	if err != nil {
		return semantic(err)
	}
	l = l[n:]
	row, pos := t.n, 0
	// a tag section seen before in this request: its tags at once
	var section []byte
	if len(l) > 0 && l[0] == ',' {
		if sp := bytes.IndexByte(l, ' '); sp > 0 {
			section = l[:sp]
			if id, ok := t.series[string(section)]; ok {
				for _, r := range t.sref[t.sstart[id]:t.sstart[id+1]] {
					r.col.addCode(row, r.code)
					pos++
				}
				l, section = l[sp:], nil
			}
		}
	}
	for len(l) > 0 && l[0] == ',' {
		l = l[1:]
		k := scanName(l)
		if k <= 0 || k == len(l) || l[k] != '=' {
			return errSlow
		}
		key := l[:k]
		l = l[k+1:]
		v := scanName(l)
		if v <= 0 || (v < len(l) && l[v] == '=') {
			return errSlow
		}
		c, err := t.column(pos, key, true, 0, line)
		if err != nil {
			return semantic(err)
		}
		code, err := c.addTag(row, l[:v])
		if err != nil {
			return semantic(err)
		}
		t.sref = append(t.sref, tagRef{c, code})
		l = l[v:]
		pos++
	}
	if section != nil && len(t.series) < maxSeriesCache {
		t.series[string(section)] = int32(len(t.sstart) - 1)
		t.sstart = append(t.sstart, int32(len(t.sref)))
	} else {
		t.sref = t.sref[:t.sstart[len(t.sstart)-1]]
	}
	if len(l) < 2 || l[0] != ' ' || l[1] == ' ' {
		return errSlow
	}
	l = l[1:]
	for {
		// the key the previous line had here, if it is plain
		k := -1
		if pos < len(t.order) {
			if p := t.order[pos]; p.plain && len(l) > len(p.name) && l[len(p.name)] == '=' && string(l[:len(p.name)]) == p.name {
				k = len(p.name)
			}
		}
		if k < 0 {
			if k = scanName(l); k <= 0 || k == len(l) || l[k] != '=' {
				return errSlow
			}
		}
		key := l[:k]
		l = l[k+1:]
		var err error
		if l, err = b.fastField(t, pos, key, l, row, line); err != nil {
			return semantic(err)
		}
		pos++
		if len(l) == 0 {
			break
		}
		if l[0] == ',' {
			l = l[1:]
			continue
		}
		// l[0] == ' ': the timestamp
		l = l[1:]
		if len(l) == 0 {
			return errSlow
		}
		ts, ok := fastInt(l)
		if !ok || ts > math.MaxInt64/b.mul || ts < math.MinInt64/b.mul {
			return errSlow
		}
		t.time = append(t.time, ts*b.mul)
		t.n++
		b.rows++
		return nil
	}
	t.time = append(t.time, b.now)
	t.n++
	b.rows++
	return nil
}

// fastField decodes one field value at the start of l and returns the
// rest of the line, which starts with ',' or ' ' or is empty.
func (b *lpBatch) fastField(t *lpTable, pos int, key, l []byte, row, line int) ([]byte, error) {
	if len(l) == 0 {
		return nil, errSlow
	}
	if l[0] == '"' {
		end := -1
		for j := 1; j < len(l); j++ {
			c := l[j]
			if c == '"' {
				end = j
				break
			}
			if c == '\\' || c >= 0x80 {
				return nil, errSlow
			}
		}
		if end < 0 || (end+1 < len(l) && l[end+1] != ',' && l[end+1] != ' ') {
			return nil, errSlow
		}
		c, err := t.column(pos, key, false, lp.String, line)
		if err != nil {
			return nil, err
		}
		c.addString(row, l[1:end])
		return l[end+1:], nil
	}
	// the usual case: a float written as a short integer, in one pass
	j, neg := 0, l[0] == '-'
	if neg {
		j = 1
	}
	var u uint64
	for st := j; j < len(l) && l[j]-'0' < 10 && j-st < 15; j++ {
		u = u*10 + uint64(l[j]-'0')
	}
	if j > 0 && !(neg && j == 1) && (j == len(l) || l[j] == ',' || l[j] == ' ' && j+1 < len(l) && l[j+1] != ' ') && !(neg && u == 0) {
		x := float64(u)
		if neg {
			x = -x
		}
		c, err := t.column(pos, key, false, lp.Float, line)
		if err != nil {
			return nil, err
		}
		c.addFloat(row, x)
		return l[j:], nil
	}
	v := 0
	for v < len(l) && l[v] != ',' && l[v] != ' ' {
		v++
	}
	tok, rest := l[:v], l[v:]
	if v == 0 || (len(rest) > 0 && rest[0] == ' ' && (len(rest) == 1 || rest[1] == ' ')) {
		return nil, errSlow
	}
	switch last := tok[len(tok)-1]; {
	case tok[0] == 't' || tok[0] == 'T' || tok[0] == 'f' || tok[0] == 'F':
		var x bool
		switch string(tok) {
		case "t", "T", "true", "True", "TRUE":
			x = true
		case "f", "F", "false", "False", "FALSE":
		default:
			return nil, errSlow
		}
		c, err := t.column(pos, key, false, lp.Bool, line)
		if err != nil {
			return nil, err
		}
		c.addBool(row, x)
	case last == 'i' || last == 'u':
		x, ok := fastInt(tok[:len(tok)-1])
		if !ok {
			return nil, errSlow
		}
		kind := lp.Int
		if last == 'u' {
			if x < 0 || tok[0] == '-' {
				return nil, errSlow
			}
			kind = lp.Uint
		}
		c, err := t.column(pos, key, false, kind, line)
		if err != nil {
			return nil, err
		}
		c.addInt(row, x)
	default:
		x, ok := fastFloat(tok)
		if !ok {
			return nil, errSlow
		}
		c, err := t.column(pos, key, false, lp.Float, line)
		if err != nil {
			return nil, err
		}
		c.addFloat(row, x)
	}
	return rest, nil
}

// fastInt parses an optionally negative decimal of at most 19 digits
// that fits in int64 (the most negative int64 is left to the library).
func fastInt(s []byte) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(u), true
	}
	return int64(u), true
}

// fastFloat parses a float: integers of up to 15 digits exactly by hand,
// other plain decimals (digits, '.', '-', '+', 'e', 'E') by strconv.
func fastFloat(s []byte) (float64, bool) {
	if len(s) == 0 || s[0] != '-' && s[0] != '.' && (s[0] < '0' || s[0] > '9') {
		return 0, false // as the library: a number starts so
	}
	if len(s) <= 16 {
		// -0 stays for strconv: it is a negative zero
		if x, ok := fastInt(s); ok && (x != 0 || s[0] != '-') && x > -1<<53 && x < 1<<53 {
			return float64(x), true
		}
	}
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return 0, false
		}
	}
	x, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
	if err != nil || math.IsInf(x, 0) {
		return 0, false
	}
	return x, true
}
