package engine

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
)

// colRef locates a column: its kind and its slot among tags or fields.
type colRef struct {
	kind arrowstore.ColumnKind
	slot int
	typ  arrowstore.FieldType
}

// schema is an immutable picture of a table's columns; changes publish a
// new one.
type schema struct {
	tags    []string            // by tag slot
	fields  []arrowstore.Column // by field slot
	byName  map[string]colRef
	order   []string            // tag and field names in creation order
	columns []arrowstore.Column // time, then tags and fields in creation order
	arrow   *arrow.Schema
}

func newSchema() *schema {
	s := &schema{byName: map[string]colRef{arrowstore.TimeColumn: {kind: arrowstore.KindTime}}}
	s.finish()
	return s
}

func (s *schema) finish() {
	s.columns = make([]arrowstore.Column, 0, 1+len(s.tags)+len(s.fields))
	s.columns = append(s.columns, arrowstore.Column{Name: arrowstore.TimeColumn, Kind: arrowstore.KindTime})
	for _, name := range s.order {
		ref := s.byName[name]
		if ref.kind == arrowstore.KindTag {
			s.columns = append(s.columns, arrowstore.Column{Name: name, Kind: arrowstore.KindTag})
		} else {
			s.columns = append(s.columns, s.fields[ref.slot])
		}
	}
	fs := make([]arrow.Field, len(s.columns))
	for i, c := range s.columns {
		fs[i] = c.ArrowField()
	}
	s.arrow = arrow.NewSchema(fs, nil)
}

// newCol is a column to add.
type newCol struct {
	name string
	kind arrowstore.ColumnKind
	typ  arrowstore.FieldType
}

// with returns a copy of s with the columns added (slots in order).
func (s *schema) with(cols []newCol) *schema {
	n := &schema{
		tags:   append([]string(nil), s.tags...),
		fields: append([]arrowstore.Column(nil), s.fields...),
		byName: make(map[string]colRef, len(s.byName)+len(cols)),
		order:  append([]string(nil), s.order...),
	}
	for k, v := range s.byName {
		n.byName[k] = v
	}
	for _, c := range cols {
		n.order = append(n.order, c.name)
		if c.kind == arrowstore.KindTag {
			n.byName[c.name] = colRef{kind: arrowstore.KindTag, slot: len(n.tags)}
			n.tags = append(n.tags, c.name)
		} else {
			n.byName[c.name] = colRef{kind: arrowstore.KindField, slot: len(n.fields), typ: c.typ}
			n.fields = append(n.fields, arrowstore.Column{Name: c.name, Kind: arrowstore.KindField, Type: c.typ})
		}
	}
	n.finish()
	return n
}
