package sql

import "strings"

// Why this file exists: pg_query turns PostgreSQL's tree into protobuf with
// recursive C functions that never check the stack. A left-deep chain such
// as `SELECT 1+1+1+…` (about 24,000 terms, 48 KB of text, on an 8 MiB thread
// stack) overflows the C stack and kills the process with SIGSEGV, and no
// Go code can recover from that. The grammar itself only limits bracket-like
// nesting (bison's stack: 100,000 nested parentheses fail cleanly with
// "memory exhausted"), not left-recursive chains. So before calling the C
// parser, depthBound scans the text once and computes an upper bound on the
// depth of the tree it can produce; checkInput refuses texts whose bound is
// above maxTreeDepth. Trees deeper than 10,000 protobuf levels would be
// refused anyway by the Go protobuf decoder pg_query_go uses, so the check
// loses nothing real: it only turns a crash into an error.

// maxTreeDepth is the largest depth bound accepted, in protobuf message
// levels (the unit of Go's protobuf recursion limit, also 10,000). A tree of
// that depth needs under 2 MiB of C stack in pg_query's output functions.
const maxTreeDepth = 10000

// Constants of the bound. Within one comma-free segment of a bracketed
// group, every node on a root-to-leaf path has a distinct, nested span, and
// each token adds at most two protobuf levels (a Node wrapper and the node:
// A_Expr, TypeCast, BoolExpr for NOT, CollateClause, …). Nodes that span a
// separator (a list holder, the BoolExpr of AND/OR, which PostgreSQL
// flattens, a CaseExpr, the leaf's own wrappers) add a constant per group.
// The left-recursive constructs whose nodes span separators, set operations
// and joins, count for the whole group.
const (
	depthPerToken = 2
	depthPerGroup = 8
	depthPerStmt  = 32
)

// bracket is one open group of the scan: the statement itself, a
// parenthesis, a square bracket or a CASE … END.
type bracket struct {
	kind    byte // 0 statement, '(', '[' or 'c' (CASE)
	chain   int  // UNION, INTERSECT, EXCEPT and JOIN keywords in the group
	seg     int  // tokens in the current segment (a subgroup counts as one)
	segSub  int  // deepest subgroup in the current segment
	best    int  // deepest completed segment
	between bool // a BETWEEN waits for its AND
}

// endSegment closes the current segment at a separator.
func (b *bracket) endSegment() {
	b.best = max(b.best, b.seg*depthPerToken+b.segSub)
	b.seg, b.segSub = 0, 0
}

// depth returns the bound for everything inside the group.
func (b *bracket) depth() int {
	b.endSegment()
	base := depthPerGroup
	if b.kind == 0 {
		base = depthPerStmt
	}
	return base + b.chain*depthPerToken + b.best
}

// depthScanner computes depthBound. Its lexer follows PostgreSQL's scan.l
// closely enough for the bound: where it differs, it sees more tokens than
// PostgreSQL does (each operator character is a token), never fewer.
type depthScanner struct {
	q     string
	stack []bracket
	max   int
}

// depthBound returns an upper bound on the nesting depth, in protobuf
// message levels, of the tree that parsing q can produce.
func depthBound(q string) int {
	s := depthScanner{q: q, stack: make([]bracket, 1, 16)}
	for i := 0; i < len(q); {
		i = s.step(i)
		if d := len(s.stack) * depthPerGroup; d > maxTreeDepth {
			return d // each open group adds at least depthPerGroup
		}
	}
	s.endStatement()
	return s.max
}

func (s *depthScanner) top() *bracket { return &s.stack[len(s.stack)-1] }

// token counts one token in the current segment of the innermost group.
func (s *depthScanner) token() { s.top().seg++ }

func (s *depthScanner) push(kind byte) { s.stack = append(s.stack, bracket{kind: kind}) }

// pop closes the innermost group and counts it as one token of its parent.
func (s *depthScanner) pop() {
	d := s.top().depth()
	s.stack = s.stack[:len(s.stack)-1]
	parent := s.top()
	parent.seg++
	parent.segSub = max(parent.segSub, d)
}

// closeBracket handles ')' and ']': it closes groups up to the matching one.
// An unmatched closer is a syntax error for PostgreSQL; count it as a token.
func (s *depthScanner) closeBracket(open byte) {
	for k := len(s.stack) - 1; k > 0; k-- {
		if s.stack[k].kind == open {
			for len(s.stack) > k {
				s.pop()
			}
			return
		}
	}
	s.token()
}

// endStatement closes every open group and the statement itself.
func (s *depthScanner) endStatement() {
	for len(s.stack) > 1 {
		s.pop()
	}
	s.max = max(s.max, s.stack[0].depth())
	s.stack[0] = bracket{}
}

// step scans the lexeme at q[i] and returns the index after it.
func (s *depthScanner) step(i int) int {
	q := s.q
	c := q[i]
	switch {
	case strings.IndexByte(sqlSpace, c) >= 0:
		return i + 1
	case c == '-' && i+1 < len(q) && q[i+1] == '-':
		return skipLineComment(q, i)
	case c == '/' && i+1 < len(q) && q[i+1] == '*':
		return skipBlockComment(q, i)
	case c == '\'' || c == '"':
		s.token()
		return skipQuoted(q, i, c, false)
	case c == '$':
		s.token()
		return skipDollar(q, i)
	case isIdentStart(c):
		return s.word(i)
	case isDigit(c) || (c == '.' && i+1 < len(q) && isDigit(q[i+1])):
		s.token()
		i++
		for i < len(q) && (isIdentCont(q[i]) && q[i] != '$' || q[i] == '.') {
			i++
		}
		return i
	case c == '(' || c == '[':
		s.push(c)
	case c == ')':
		s.closeBracket('(')
	case c == ']':
		s.closeBracket('[')
	case c == ',':
		s.top().endSegment()
	case c == ';' && len(s.stack) == 1:
		s.endStatement()
	default: // operator characters and other punctuation, one token each
		s.token()
	}
	return i + 1
}

// word scans an identifier or keyword at q[i].
func (s *depthScanner) word(i int) int {
	q := s.q
	j := i + 1
	for j < len(q) && isIdentCont(q[j]) {
		j++
	}
	w := q[i:j]
	if (w == "e" || w == "E") && j < len(q) && q[j] == '\'' {
		s.token() // E'…': backslash escapes
		return skipQuoted(q, j, '\'', true)
	}
	if len(w) < 2 || len(w) > 9 {
		s.token()
		return j
	}
	top := s.top()
	switch strings.ToLower(w) {
	case "and":
		if top.between {
			top.between = false
			s.token()
		} else {
			top.endSegment()
		}
	case "or":
		top.endSegment()
	case "between":
		top.between = true
		s.token()
	case "case":
		s.push('c')
	case "end":
		if top.kind == 'c' {
			s.pop()
		} else {
			s.token()
		}
	case "when", "then", "else":
		if top.kind == 'c' {
			top.endSegment()
		} else {
			s.token()
		}
	case "union", "intersect", "except", "join":
		top.chain++
	default:
		s.token()
	}
	return j
}

func skipLineComment(q string, i int) int {
	for i < len(q) && q[i] != '\n' && q[i] != '\r' {
		i++
	}
	return i
}

// skipBlockComment skips a /* … */ comment; they nest in PostgreSQL.
func skipBlockComment(q string, i int) int {
	depth := 0
	for i < len(q) {
		switch {
		case strings.HasPrefix(q[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(q[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return i
}

// skipQuoted skips a literal or quoted identifier opened by quote at q[i]; a
// doubled quote stands for itself, and in E'…' a backslash escapes the next
// byte. An unterminated literal runs to the end (PostgreSQL refuses it).
func skipQuoted(q string, i int, quote byte, backslash bool) int {
	for i++; i < len(q); i++ {
		switch q[i] {
		case '\\':
			if backslash {
				i++
			}
		case quote:
			if i+1 < len(q) && q[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return i
}

// skipDollar skips a parameter ($1) or a dollar-quoted string ($tag$…$tag$)
// at q[i]; a lone '$' is one character.
func skipDollar(q string, i int) int {
	j := i + 1
	if j < len(q) && isDigit(q[j]) {
		for j < len(q) && isDigit(q[j]) {
			j++
		}
		return j
	}
	if j < len(q) && isIdentStart(q[j]) {
		for j < len(q) && isIdentCont(q[j]) && q[j] != '$' {
			j++
		}
	}
	if j >= len(q) || q[j] != '$' {
		return i + 1
	}
	delim := q[i : j+1]
	end := strings.Index(q[j+1:], delim)
	if end < 0 {
		return len(q)
	}
	return j + 1 + end + len(delim)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isIdentStart and isIdentCont follow scan.l's ident_start and ident_cont.
func isIdentStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentCont(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '$' }
