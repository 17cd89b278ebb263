package pgcatalog

// keyword is a row of pg_get_keywords() (keywords.gen.go).
type keyword struct {
	word      string
	catcode   byte // U unreserved, C column name, T type or function name, R reserved
	barelabel bool // can be a column label without AS
}

var keywordCategories = map[byte]string{
	'U': "unreserved",
	'C': "unreserved (cannot be function or type name)",
	'T': "reserved (can be function or type name)",
	'R': "reserved",
}

// pgGetKeywords builds pg_get_keywords()'s rows.
func pgGetKeywords(_ *Snapshot, r *rowset) {
	for _, k := range pgKeywords {
		bare := "requires AS"
		if k.barelabel {
			bare = "can be bare label"
		}
		r.add("word", k.word, "catcode", string(k.catcode), "barelabel", k.barelabel,
			"catdesc", keywordCategories[k.catcode], "baredesc", bare)
	}
}

// setFunctions are the set-returning catalog functions without arguments
// that FROM may call, as relations named "schema.name()" (a name no
// RangeVar spells): their result columns, name and pg_type.typname.
var setFunctions = map[string][]colDef{
	"pg_catalog.pg_get_keywords()": {{"word", "text"}, {"catcode", "char"}, {"barelabel", "bool"}, {"catdesc", "text"}, {"baredesc", "text"}},
}

// columnsOf is the column list of a relation or set-returning function.
func columnsOf(rel string) ([]colDef, bool) {
	if defs, ok := relColumns[rel]; ok {
		return defs, true
	}
	defs, ok := setFunctions[rel]
	return defs, ok
}
