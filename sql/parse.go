package sql

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"github.com/pganalyze/pg_query_go/v6/parser"

	"github.com/ugnos/ugnos/errs"
)

// MaxQueryBytes is the longest query text Parse accepts. Longer texts are
// refused with SQLSTATE 54000 before the C parser sees them.
const MaxQueryBytes = 16 << 20

// SQLSTATE codes this package returns that package errs does not name.
const (
	CodeProgramLimitExceeded     = "54000"
	CodeStatementTooComplex      = "54001"
	CodeCharacterNotInRepertoire = "22021"
)

// Statement is one parsed statement of a query string.
type Statement struct {
	// Node is the statement's raw parse tree, e.g. Node.GetSelectStmt().
	Node *pg_query.Node
	// Text is the statement's own text, without surrounding whitespace and
	// without the terminating semicolon.
	Text string
	// Pos is the 0-based byte offset of Text in the original query string.
	Pos int
}

// Parse parses query, which may hold several statements separated by
// semicolons, without caching. A query that is empty or holds only
// whitespace, comments and semicolons yields no statements and no error
// (PostgreSQL answers it with EmptyQueryResponse). Errors are *errs.Error.
func Parse(query string) ([]Statement, error) {
	if err := checkInput(query); err != nil {
		return nil, err
	}
	tree, err := pg_query.Parse(query)
	if err != nil {
		return nil, convertError(err)
	}
	stmts := make([]Statement, 0, len(tree.Stmts))
	for _, raw := range tree.Stmts {
		stmts = append(stmts, newStatement(query, raw))
	}
	return stmts, nil
}

// checkInput refuses, before the C parser runs, texts it must not see: too
// long, not UTF-8 (PostgreSQL would have refused them on receipt), or nested
// so deeply that turning the tree into Go values could exhaust the C stack.
func checkInput(query string) error {
	if len(query) > MaxQueryBytes {
		return errs.New(errs.ErrInvalidInput, CodeProgramLimitExceeded,
			"query is too long: %d bytes, the limit is %d", len(query), MaxQueryBytes)
	}
	if err := checkUTF8(query); err != nil {
		return err
	}
	if d := depthBound(query); d > maxTreeDepth {
		return &errs.Error{Kind: errs.ErrInvalidInput, Code: CodeStatementTooComplex,
			Msg: fmt.Sprintf("statement is too complex: it may nest about %d levels deep, the limit is %d", d, maxTreeDepth)}
	}
	return nil
}

// checkUTF8 reports invalid UTF-8 (and NUL, which would cut the C string
// short) the way PostgreSQL does: SQLSTATE 22021 naming the bad bytes.
func checkUTF8(query string) error {
	if utf8.ValidString(query) && strings.IndexByte(query, 0) < 0 {
		return nil
	}
	for i := 0; i < len(query); {
		r, size := utf8.DecodeRuneInString(query[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			end := min(i+utf8MBLen(query[i]), len(query))
			return &errs.Error{Kind: errs.ErrInvalidInput, Code: CodeCharacterNotInRepertoire,
				Msg: fmt.Sprintf("invalid byte sequence for encoding \"UTF8\": %s", hexBytes(query[i:end])),
				Pos: utf8.RuneCountInString(query[:i]) + 1}
		}
		i += size
	}
	return nil
}

// utf8MBLen is the length of the sequence a lead byte announces, as
// PostgreSQL's pg_utf_mblen computes it for its error message.
func utf8MBLen(lead byte) int {
	switch {
	case lead&0xe0 == 0xc0:
		return 2
	case lead&0xf0 == 0xe0:
		return 3
	case lead&0xf8 == 0xf0:
		return 4
	}
	return 1
}

func hexBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "0x%02x", s[i])
	}
	return b.String()
}

// convertError turns a pg_query failure into an *errs.Error. Grammar and
// scanner errors keep PostgreSQL's message and 1-based character position.
func convertError(err error) error {
	var pe *parser.Error
	if !errors.As(err, &pe) {
		// Decoding the tree in Go failed (for instance its recursion limit);
		// checkInput should have refused such input before.
		return errs.Wrap(errs.ErrInvalidInput, CodeStatementTooComplex, err, "cannot decode parse tree")
	}
	code := errs.CodeSyntaxError
	switch {
	case strings.HasPrefix(pe.Message, "stack depth limit exceeded"):
		code = CodeStatementTooComplex
	case strings.HasPrefix(pe.Message, "invalid byte sequence for encoding"):
		code = CodeCharacterNotInRepertoire // E'\000' and the like
	}
	return &errs.Error{Kind: errs.ErrInvalidInput, Code: code, Msg: pe.Message, Pos: pe.Cursorpos}
}

// newStatement cuts the statement's own text out of query.
// StmtLocation and StmtLen are byte offsets; a length of 0 means "to the end".
func newStatement(query string, raw *pg_query.RawStmt) Statement {
	start := clamp(int(raw.GetStmtLocation()), 0, len(query))
	end := len(query)
	if n := int(raw.GetStmtLen()); n > 0 {
		end = clamp(start+n, start, len(query))
	}
	text := query[start:end]
	trimmed := strings.TrimLeft(text, sqlSpace)
	start += len(text) - len(trimmed)
	trimmed = strings.TrimRight(trimmed, sqlSpace)
	return Statement{Node: raw.GetStmt(), Text: trimmed, Pos: start}
}

// sqlSpace is PostgreSQL's whitespace (scan.l: space).
const sqlSpace = " \t\n\r\f\v"

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}
