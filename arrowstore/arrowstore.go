package arrowstore

import (
	"context"
	"math"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// TimeColumn is the name of every table's time column.
const TimeColumn = "time"

// MaxNameLen is the longest tenant, table or column name accepted, in bytes
// (PostgreSQL's NAMEDATALEN-1).
const MaxNameLen = 63

// MaxTagValueLen is the longest tag value accepted, in bytes (InfluxDB's
// limit on a series key is 64 KiB too): tag values are index keys.
const MaxTagValueLen = 64 << 10

// MaxTextLen is the longest text field value accepted, in bytes.
const MaxTextLen = 16 << 20

// MinTime and MaxTime bound the time range of a scan that wants everything.
const (
	MinTime int64 = math.MinInt64
	MaxTime int64 = math.MaxInt64
)

// ColumnKind says what role a column plays in a table.
type ColumnKind uint8

const (
	KindTime ColumnKind = iota
	KindTag
	KindField
)

func (k ColumnKind) String() string {
	switch k {
	case KindTime:
		return "time"
	case KindTag:
		return "tag"
	default:
		return "field"
	}
}

// FieldType is the stored type of a field column.
type FieldType uint8

const (
	TypeFloat  FieldType = iota + 1 // double precision
	TypeInt                         // bigint
	TypeBool                        // boolean
	TypeString                      // text
)

func (t FieldType) String() string {
	switch t {
	case TypeFloat:
		return "double precision"
	case TypeInt:
		return "bigint"
	case TypeBool:
		return "boolean"
	case TypeString:
		return "text"
	}
	return "unknown"
}

// ArrowType is the Arrow type of a field of this type in scan results.
func (t FieldType) ArrowType() arrow.DataType {
	switch t {
	case TypeFloat:
		return arrow.PrimitiveTypes.Float64
	case TypeInt:
		return arrow.PrimitiveTypes.Int64
	case TypeBool:
		return arrow.FixedWidthTypes.Boolean
	default:
		return arrow.BinaryTypes.String
	}
}

// Arrow types of the time and tag columns in scan results.
var (
	TimeType = &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	TagType  = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
)

// Column describes one column of a table.
type Column struct {
	Name string
	Kind ColumnKind
	Type FieldType // fields only
}

// ArrowType is the Arrow type of the column in scan results.
func (c Column) ArrowType() arrow.DataType {
	switch c.Kind {
	case KindTime:
		return TimeType
	case KindTag:
		return TagType
	}
	return c.Type.ArrowType()
}

// SeriesIDColumn may be requested from a Scan (it is not in the table's
// schema): the uint32 id of each row's series, stable for the life of the
// table. SeriesTable maps it back to tags.
const SeriesIDColumn = "_series_id"

// PartitionedScanner is implemented by tables that can split one scan
// over a consistent view into n readers to be read concurrently (one per
// core); together they return each row once.
type PartitionedScanner interface {
	ScanPartitions(ctx context.Context, req ScanRequest, n int) ([]array.RecordReader, error)
}

// LastRower is implemented by tables that keep each series' latest time,
// so that last-point queries need not scan history.
type LastRower interface {
	// LastRows returns, for every series passing req.Filters that has a
	// live row, its rows at its latest time (all of them when several
	// share it), with req.Columns; as Scan, rows expired by retention or
	// deleted are never returned. req.MinT and req.MaxT must be MinTime
	// and MaxTime; Stats is honoured, Ranges and Reuse are ignored. The
	// caller must Release the reader; its batches stay valid until then.
	LastRows(ctx context.Context, req ScanRequest) (array.RecordReader, error)
}

// SeriesTable is implemented by tables that can name the series behind a
// SeriesIDColumn value.
type SeriesTable interface {
	// SeriesTags returns the tags of a series (a new map), or nil if the
	// id is unknown.
	SeriesTags(sid uint32) map[string]string
}

// TagValuer is implemented by tables that can list a tag's distinct
// values (the keys of the tag index), so callers can turn pattern
// predicates into IN lists.
type TagValuer interface {
	TagValues(column string) []string
}

// Metadata keys on Arrow fields of written and scanned records.
const (
	// MetaKind marks a column of a written record as "tag" or "field"
	// ("time" for the time column). Without it, text columns are tags and
	// every other column except "time" is a field.
	MetaKind = "ugnos.kind"
)

// ArrowField is the Arrow field of the column in scan results, with its kind
// in the field metadata.
func (c Column) ArrowField() arrow.Field {
	return arrow.Field{
		Name:     c.Name,
		Type:     c.ArrowType(),
		Nullable: c.Kind != KindTime,
		Metadata: arrow.NewMetadata([]string{MetaKind}, []string{c.Kind.String()}),
	}
}

// FilterOp is a tag predicate operator.
type FilterOp uint8

const (
	OpEq    FilterOp = iota // tag = Values[0]
	OpNotEq                 // tag <> Values[0] (rows without the tag do not match, as with SQL NULL)
	OpIn                    // tag IN (Values...)
	OpNotIn                 // tag NOT IN (Values...) (rows without the tag do not match)
)

// Filter is a predicate on a tag column pushed into a scan. The empty string
// stands for "tag absent" only in OpEq/OpIn, as InfluxQL does.
type Filter struct {
	Column string
	Op     FilterOp
	Values []string
}

func (f Filter) String() string {
	ops := [...]string{"=", "<>", "IN", "NOT IN"}
	return f.Column + " " + ops[f.Op] + " (" + strings.Join(f.Values, ", ") + ")"
}

// ScanRequest is what a scan is asked for. Filters are ANDed.
type ScanRequest struct {
	MinT, MaxT int64    // inclusive time bounds
	Columns    []string // projection in output order; nil: every column in table order
	Filters    []Filter // tag predicates; only those HandledFilters accepted
	BatchRows  int      // a hint for the largest batch; 0: the store's choice
	Stats      *ScanStats
	// Ranges are hints on numeric fields: batches whose zone maps show no
	// row can fall in a range may be skipped. Rows outside the ranges may
	// still be returned; the caller filters exactly.
	Ranges []FieldRange
	// Reuse lets a reader write each batch over the fixed-width buffers
	// (dictionary indices, numbers, times) of the batch before. A caller
	// may set it only if it retains no batch and is done with a batch's
	// fixed-width values before it asks its reader for the next one, as a
	// partial aggregate is: the scan then allocates no per-row buffers
	// batch after batch. Text bytes (tag dictionaries, text fields) are
	// never reused, so strings taken from a batch stay valid.
	Reuse bool
}

// FieldRange is a zone-map hint: Min <= value <= Max (bounds inclusive;
// use ±Inf for open ends). NULLs never match; NaN matches a range open
// to +Inf, as NaN sorts above every number in PostgreSQL.
type FieldRange struct {
	Column   string
	Min, Max float64
}

// ScanStats counts what a scan did. Safe for concurrent update.
type ScanStats struct {
	RowsScanned   atomic.Int64 // rows whose time or series was examined
	RowsReturned  atomic.Int64
	BatchesTotal  atomic.Int64 // sealed batches and write-buffer chunks considered
	BatchesPruned atomic.Int64 // of those, skipped by zone maps or indexes alone
	SeriesMatched atomic.Int64
}

// Table is one table of a tenant.
type Table interface {
	Name() string
	// Columns returns the current columns: time first, then tags and
	// fields in creation order. The slice must not be modified.
	Columns() []Column
	// Schema is Columns as an Arrow schema (the full scan output schema).
	Schema() *arrow.Schema
	// HandledFilters returns the filters Scan applies exactly.
	HandledFilters(filters []Filter) []Filter
	// Scan returns the rows in [MinT, MaxT] matching every filter, with the
	// requested columns. Rows come in no particular order across batches;
	// within a batch they are grouped by series and time-sorted per series.
	// The caller must Release the reader; batches returned by it are owned
	// by the reader and valid until the next call to Next.
	Scan(ctx context.Context, req ScanRequest) (array.RecordReader, error)
}

// Engine is a multi-tenant store of tables.
type Engine interface {
	// Tenants lists the tenants, sorted.
	Tenants() []string
	// Tables lists the tables of a tenant, sorted.
	Tables(tenant string) ([]string, error)
	// Table returns a table, or an error of kind errs.ErrNotFound.
	Table(tenant, name string) (Table, error)
	// Write stores the rows of rec in a table, creating the tenant, the
	// table and new columns as needed (schema on write). It returns after
	// the rows are durable per the sync mode. On error nothing is stored.
	Write(ctx context.Context, tenant, table string, rec arrow.RecordBatch) error
	// Delete removes the rows of a table in [minT, maxT] matching the
	// filters and returns how many were removed.
	Delete(ctx context.Context, tenant, table string, minT, maxT int64, filters []Filter) (uint64, error)
	Close() error
}

// RecordBytes is the size of a record's buffers.
func RecordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, buf := range c.Data().Buffers() {
			if buf != nil {
				n += int64(buf.Len())
			}
		}
	}
	return n
}
