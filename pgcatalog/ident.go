package pgcatalog

import "strconv"

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// keywords are the PostgreSQL keywords quote_ident quotes (reserved,
// column-name and type-function-name keywords; unreserved ones need no
// quotes).
var keywords = map[string]bool{}

func init() {
	for _, k := range pgKeywords {
		if k.catcode != 'U' {
			keywords[k.word] = true
		}
	}
}

// QuoteIdent is PostgreSQL's quote_ident: the name as is when it is a
// lower-case identifier and no keyword, else in double quotes.
func QuoteIdent(s string) string { return quoteIdent(s) }

func quoteIdent(s string) string {
	safe := s != "" && !keywords[s]
	for i := 0; i < len(s) && safe; i++ {
		c := s[i]
		safe = c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9')
	}
	if safe {
		return s
	}
	out := []byte{'"'}
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			out = append(out, '"')
		}
		out = append(out, s[i])
	}
	return string(append(out, '"'))
}
