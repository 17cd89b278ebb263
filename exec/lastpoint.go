package exec

import (
	"context"
	"io"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/ugnos/ugnos/arrowstore"
	"github.com/ugnos/ugnos/planner"
)

// newLastPoint reads each series' rows at its latest time from a table
// that keeps them (arrowstore.LastRower), as a scan with the same schema;
// from any other table it scans everything, which the operators above
// reduce to the same result.
func newLastPoint(n *planner.LastPoint, env Env) (Operator, error) {
	t, err := env.Table(n.Scan.Table)
	if err != nil {
		return nil, err
	}
	lr, ok := t.(arrowstore.LastRower)
	if !ok {
		return newScan(n.Scan, env)
	}
	req := arrowstore.ScanRequest{MinT: n.Scan.MinT, MaxT: n.Scan.MaxT, Stats: env.Stats}
	if env.Profile != nil {
		st := env.Profile.Get(n)
		if st.Scan == nil {
			st.Scan = &arrowstore.ScanStats{}
		}
		req.Stats = st.Scan
	}
	for _, c := range n.Scan.Cols {
		req.Columns = append(req.Columns, c.Name)
	}
	if req.Filters, err = StorageFilters(t, n.Scan.Tags); err != nil {
		return nil, err
	}
	return &lastPointOp{lr: lr, req: req, scan: scanOp{n: n.Scan, schema: scanSchema(n.Scan), env: env}}, nil
}

// lastPointOp asks the table for the latest rows on its first Next (so the
// query's context governs the reading) and then hands them out as a scan.
type lastPointOp struct {
	lr      arrowstore.LastRower
	req     arrowstore.ScanRequest
	started bool
	scan    scanOp
}

func (o *lastPointOp) Schema() *arrow.Schema { return o.scan.schema }
func (o *lastPointOp) Close() error          { return o.scan.Close() }

// Next returns all the rows in one batch: the table hands them out in
// small pieces (a series' rows at its latest time each), too small to go
// through the operators above one by one.
func (o *lastPointOp) Next(ctx context.Context) (arrow.RecordBatch, error) {
	if o.started {
		return nil, io.EOF
	}
	o.started = true
	rd, err := o.lr.LastRows(ctx, o.req)
	if err != nil {
		return nil, err
	}
	o.scan.rd = rd
	var recs []arrow.RecordBatch
	for {
		rec, err := o.scan.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			for _, r := range recs {
				r.Release()
			}
			return nil, err
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil, io.EOF
	}
	return concat(o.scan.schema, recs), nil
}
