package functions

import (
	"sort"
	"strings"

	"github.com/ugnos/ugnos/errs"
)

// Kernel evaluates a scalar function over n rows. Arguments keep their
// resolved types; the result has the function's result type.
type Kernel func(args []Vec, n int) (Vec, error)

// Scalar is a scalar function or operator.
type Scalar struct {
	Name string
	// Resolve checks argument types (already coerced) and returns the
	// result type and kernel.
	Resolve func(args []Type) (Type, Kernel, error)
	// Volatile functions (now(), random()) must not be constant-folded.
	Volatile bool
}

// Aggregate is an aggregate function.
type Aggregate struct {
	Name    string
	Resolve func(args []Type) (Type, error)
	// New returns an accumulator for the resolved argument types.
	New func(args []Type) Acc
}

// Registry holds the functions. It is immutable after NewRegistry.
type Registry struct {
	scalars map[string]*Scalar
	aggs    map[string]*Aggregate
	parent  *Registry // see With
}

// NewRegistry returns the registry of built-in functions.
func NewRegistry() *Registry {
	r := &Registry{scalars: map[string]*Scalar{}, aggs: map[string]*Aggregate{}}
	for _, s := range append(builtinScalars(), arrayScalars()...) {
		r.scalars[s.Name] = s
	}
	for _, s := range append(numericScalars(r.scalars), numericTypmod()) {
		r.scalars[s.Name] = s
	}
	for _, a := range append(append(builtinAggregates(), moreAggregates()...), int4SumAggregate()) {
		r.aggs[a.Name] = a
	}
	return r
}

// Scalar returns a scalar function by (lower-case) name.
func (r *Registry) Scalar(name string) (*Scalar, bool) {
	s, ok := r.scalars[strings.ToLower(name)]
	if !ok && r.parent != nil {
		return r.parent.Scalar(name)
	}
	return s, ok
}

// Aggregate returns an aggregate by name.
func (r *Registry) Aggregate(name string) (*Aggregate, bool) {
	if r.parent != nil {
		return r.parent.Aggregate(name)
	}
	a, ok := r.aggs[strings.ToLower(name)]
	return a, ok
}

// Names lists every function name, sorted.
func (r *Registry) Names() []string {
	var out []string
	for n := range r.scalars {
		out = append(out, n)
	}
	for n := range r.aggs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func noFunc(name string, args []Type) error {
	ts := make([]string, len(args))
	for i, t := range args {
		ts[i] = t.Name()
	}
	return errs.New(errs.ErrNotFound, "42883", "function %s(%s) does not exist", name, strings.Join(ts, ", "))
}

func noOp(op string, args []Type) error {
	if len(args) == 1 {
		return errs.New(errs.ErrNotFound, "42883", "operator does not exist: %s %s", op, args[0].Name())
	}
	return errs.New(errs.ErrNotFound, "42883", "operator does not exist: %s %s %s", args[0].Name(), op, args[1].Name())
}
