package functions

import "github.com/ugnos/ugnos/errs"

// Gap filling (TimescaleDB): time_bucket_gapfill, locf and interpolate.
// Their meaning is in the planner and exec (a GapFill node after the
// aggregate); the kernels here are what they compute on rows that have
// data: time_bucket_gapfill is time_bucket over its first two arguments,
// locf and interpolate return their argument. The planner refuses every
// other use of them.

// GapfillStart and GapfillFinish are the argument positions of the
// optional range of time_bucket_gapfill.
const (
	GapfillStart  = 2
	GapfillFinish = 3
)

// GapfillWidth is the width of a time_bucket_gapfill bucket in ns, from
// its constant interval argument.
func GapfillWidth(iv Interval) (int64, error) {
	return fixedWidth(ConstVec(iv, TInterval, 1))
}

// GapfillOrigin is the origin buckets align to (time_bucket's default).
func GapfillOrigin() int64 { return bucketOrigin }

func gapfillFuncs() []*Scalar {
	return []*Scalar{
		{Name: "time_bucket_gapfill", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 2 && len(a) != 4 || a[0] != TInterval || a[1] != TTimestamp {
				return 0, nil, noFunc("time_bucket_gapfill", a)
			}
			for _, t := range a[2:] {
				if t != TTimestamp {
					return 0, nil, noFunc("time_bucket_gapfill", a)
				}
			}
			return TTimestamp, func(args []Vec, n int) (Vec, error) { return timeBucketInto(args[:2], n, nil) }, nil
		}},
		{Name: "locf", Resolve: func(a []Type) (Type, Kernel, error) {
			// locf(value [, prev [, treat_null_as_missing]]); the planner
			// checks prev (a constant, NULL of any type)
			if len(a) < 1 || len(a) > 3 || len(a) == 3 && a[2] != TBool {
				return 0, nil, noFunc("locf", a)
			}
			return a[0], identityKernel, nil
		}},
		{Name: "interpolate", Resolve: func(a []Type) (Type, Kernel, error) {
			if len(a) != 1 {
				return 0, nil, noFunc("interpolate", a)
			}
			if a[0] != TFloat && a[0] != TInt {
				return 0, nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "interpolate of type %s is not supported", a[0].Name())
			}
			return a[0], identityKernel, nil
		}},
	}
}

func identityKernel(args []Vec, n int) (Vec, error) { return args[0], nil }
