package functions

// With returns a registry with the functions of r and the scalars extra,
// which hide r's scalars of the same name. r is not changed; creating one
// costs a map of len(extra), so a statement can carry its own
// session-dependent functions (current_user, pg_get_userbyid, …).
func (r *Registry) With(extra ...*Scalar) *Registry {
	c := &Registry{scalars: make(map[string]*Scalar, len(extra)), parent: r}
	for _, s := range extra {
		c.scalars[s.Name] = s
	}
	return c
}

// RowKernel makes a kernel that computes each row with f (f sees every
// argument, NULLs included, and returns nil for NULL); all-constant
// arguments give a constant.
func RowKernel(t Type, f func(args []Vec, i int) (any, error)) Kernel {
	return func(args []Vec, n int) (Vec, error) {
		if allConst(args) {
			v, err := f(args, 0)
			return ConstVec(v, t, n), err
		}
		vals := make([]any, n)
		for i := range vals {
			v, err := f(args, i)
			if err != nil {
				return Vec{}, err
			}
			vals[i] = v
		}
		return ArrVec(NewOf(t, vals), t), nil
	}
}
