package pgcatalog

import "strconv"

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// keywords are the PostgreSQL keywords quote_ident quotes (reserved,
// column-name and type-function-name keywords; unreserved ones need no
// quotes).
var keywords = map[string]bool{}

func init() {
	for _, k := range []string{
		"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization",
		"between", "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character",
		"check", "coalesce", "collate", "collation", "column", "concurrently", "constraint", "create",
		"cross", "current_catalog", "current_date", "current_role", "current_schema", "current_time",
		"current_timestamp", "current_user", "dec", "decimal", "default", "deferrable", "desc",
		"distinct", "do", "else", "end", "except", "exists", "extract", "false", "fetch", "float",
		"for", "foreign", "freeze", "from", "full", "grant", "greatest", "group", "grouping", "having",
		"ilike", "in", "initially", "inner", "inout", "int", "integer", "intersect", "interval", "into",
		"is", "isnull", "join", "json", "lateral", "leading", "least", "left", "like", "limit",
		"localtime", "localtimestamp", "national", "natural", "nchar", "none", "normalize", "not",
		"notnull", "null", "nullif", "numeric", "offset", "on", "only", "or", "order", "out", "outer",
		"overlaps", "overlay", "placing", "position", "precision", "primary", "real", "references",
		"returning", "right", "row", "select", "session_user", "setof", "similar", "smallint", "some",
		"substring", "symmetric", "system_user", "table", "tablesample", "then", "time", "timestamp",
		"to", "trailing", "treat", "trim", "true", "union", "unique", "user", "using", "values",
		"varchar", "variadic", "verbose", "when", "where", "window", "with", "xmlattributes",
		"xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi",
		"xmlroot", "xmlserialize", "xmltable",
	} {
		keywords[k] = true
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
