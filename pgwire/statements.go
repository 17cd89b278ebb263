package pgwire

import (
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgproto3"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/functions"
)

// Statements about the session itself (SET, SHOW, RESET, transactions,
// DISCARD, DEALLOCATE) are answered here; everything else goes to the
// engine.

// sessionColumns describes the result of a session statement without
// running it: ok false when the engine handles the statement, nil columns
// for statements without rows.
func sessionColumns(n *pg.Node) (cols []pgproto3.FieldDescription, ok bool) {
	switch {
	case n.GetVariableShowStmt() != nil:
		name := n.GetVariableShowStmt().GetName()
		if strings.EqualFold(name, "all") {
			return []pgproto3.FieldDescription{textField("name"), textField("setting"), textField("description")}, true
		}
		return []pgproto3.FieldDescription{textField(showName(name))}, true
	case n.GetVariableSetStmt() != nil, n.GetTransactionStmt() != nil, n.GetDiscardStmt() != nil,
		n.GetDeallocateStmt() != nil, n.GetListenStmt() != nil, n.GetUnlistenStmt() != nil, n.GetCopyStmt() != nil:
		return nil, true
	}
	return nil, false
}

// showName is the column name SHOW uses: the setting's own spelling.
func showName(name string) string {
	if st, ok := settingByName[strings.ToLower(name)]; ok {
		return st.name
	}
	return strings.ToLower(name)
}

// sessionStatement runs a session statement; ok false hands it to the
// engine.
func (c *conn) sessionStatement(n *pg.Node) (*result, bool, error) {
	switch {
	case n.GetVariableSetStmt() != nil:
		return c.setStmt(n.GetVariableSetStmt())
	case n.GetVariableShowStmt() != nil:
		r, err := c.showStmt(n.GetVariableShowStmt().GetName())
		return r, true, err
	case n.GetTransactionStmt() != nil:
		r, err := c.txStmt(n.GetTransactionStmt())
		return r, true, err
	case n.GetDiscardStmt() != nil:
		if n.GetDiscardStmt().GetTarget() != pg.DiscardMode_DISCARD_ALL {
			return &result{verb: "DISCARD " + strings.TrimPrefix(n.GetDiscardStmt().GetTarget().String(), "DISCARD_")}, true, nil
		}
		if c.tx != 'I' {
			return nil, true, errs.New(errs.ErrInvalidInput, "25001", "DISCARD ALL cannot run inside a transaction block")
		}
		c.sess = newSession(c.srv.ServerVersion(), c.user)
		for name := range c.stmts {
			if name != "" {
				delete(c.stmts, name)
			}
		}
		return &result{verb: "DISCARD ALL"}, true, nil
	case n.GetDeallocateStmt() != nil:
		name := n.GetDeallocateStmt().GetName()
		if name == "" {
			for k := range c.stmts {
				if k != "" {
					delete(c.stmts, k)
				}
			}
			return &result{verb: "DEALLOCATE ALL"}, true, nil
		}
		if _, ok := c.stmts[name]; !ok {
			return nil, true, errs.New(errs.ErrNotFound, "26000", "prepared statement %q does not exist", name)
		}
		delete(c.stmts, name)
		return &result{verb: "DEALLOCATE"}, true, nil
	case n.GetUnlistenStmt() != nil:
		return c.unlistenStmt(n.GetUnlistenStmt()), true, nil
	case n.GetListenStmt() != nil:
		return c.listenStmt(n.GetListenStmt()), true, nil
	}
	return nil, false, nil
}

// setStmt handles SET, SET TIME ZONE, RESET and RESET ALL. SET LOCAL acts
// like SET: ugnos has no transactions to scope it to.
func (c *conn) setStmt(s *pg.VariableSetStmt) (*result, bool, error) {
	name := s.GetName()
	switch s.GetKind() {
	case pg.VariableSetKind_VAR_SET_VALUE:
		v, err := setValue(name, s.GetArgs())
		if err != nil {
			return nil, true, err
		}
		st, err := c.sess.set(name, v)
		if err != nil {
			return nil, true, err
		}
		c.reportSetting(st)
		return &result{verb: "SET"}, true, nil
	case pg.VariableSetKind_VAR_SET_DEFAULT, pg.VariableSetKind_VAR_RESET:
		st, err := c.sess.reset(name)
		if err != nil {
			return nil, true, err
		}
		c.reportSetting(st)
		verb := "SET"
		if s.GetKind() == pg.VariableSetKind_VAR_RESET {
			verb = "RESET"
		}
		return &result{verb: verb}, true, nil
	case pg.VariableSetKind_VAR_RESET_ALL:
		for _, st := range settings {
			if st.check != nil {
				_, _ = c.sess.reset(st.name)
				c.reportSetting(st)
			}
		}
		return &result{verb: "RESET"}, true, nil
	case pg.VariableSetKind_VAR_SET_MULTI:
		// SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION …:
		// every statement runs alone and sees the latest data
		return &result{verb: "SET"}, true, nil
	}
	return nil, true, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "SET %s FROM CURRENT is not supported", name)
}

func (c *conn) reportSetting(st *setting) {
	if st != nil && st.report {
		v, _ := c.sess.get(st.name)
		c.be.Send(&pgproto3.ParameterStatus{Name: st.name, Value: v})
	}
}

// setValue renders SET's arguments as one setting value (lists joined
// with ", " as PostgreSQL shows search_path).
func setValue(name string, args []*pg.Node) (string, error) {
	var parts []string
	for _, a := range args {
		switch {
		case a.GetAConst() != nil:
			k := a.GetAConst()
			switch {
			case k.GetSval() != nil:
				parts = append(parts, k.GetSval().GetSval())
			case k.GetIval() != nil:
				parts = append(parts, strconv.FormatInt(int64(k.GetIval().GetIval()), 10))
			case k.GetFval() != nil:
				parts = append(parts, k.GetFval().GetFval())
			case k.GetBoolval() != nil:
				parts = append(parts, strconv.FormatBool(k.GetBoolval().GetBoolval()))
			default:
				return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid value for parameter %q", name)
			}
		case a.GetTypeCast() != nil && a.GetTypeCast().GetArg().GetAConst() != nil:
			// SET TIME ZONE INTERVAL '+02:00' HOUR TO MINUTE
			sv := a.GetTypeCast().GetArg().GetAConst().GetSval().GetSval()
			iv, err := functions.ParseInterval(sv)
			if err != nil {
				return "", err
			}
			d, ok := iv.Fixed()
			if !ok {
				return "", errs.New(errs.ErrInvalidInput, errs.CodeInvalidParameter, "invalid interval value for time zone: %q", sv)
			}
			parts = append(parts, strconv.FormatFloat(float64(d)/3600e9, 'f', -1, 64))
		default:
			return "", errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "this value for SET %s is not supported", name)
		}
	}
	return strings.Join(parts, ", "), nil
}

func (c *conn) showStmt(name string) (*result, error) {
	var rows [][]string
	var cols []string
	if strings.EqualFold(name, "all") {
		cols = []string{"name", "setting", "description"}
		for _, r := range c.sess.all() {
			rows = append(rows, r[:])
		}
	} else {
		if strings.EqualFold(name, "timezone") || strings.EqualFold(name, "time zone") {
			name = "TimeZone"
		}
		v, err := c.sess.get(name)
		if err != nil {
			return nil, err
		}
		cols = []string{showName(name)}
		rows = [][]string{{v}}
	}
	return textResult("SHOW", cols, rows), nil
}

// textResult is a result of text columns.
func textResult(verb string, cols []string, rows [][]string) *result {
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	for i, name := range cols {
		fields[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String, Nullable: true}
		vals := make([]string, len(rows))
		for r, row := range rows {
			vals[r] = row[i]
		}
		arrs[i] = functions.NewText(vals, nil)
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, arrs, int64(len(rows)))
	for _, a := range arrs {
		a.Release()
	}
	rd, _ := array.NewRecordReader(schema, []arrow.RecordBatch{rec})
	rec.Release()
	return &result{rd: rd, schema: schema, verb: verb}
}

// txStmt accepts transaction statements. Every statement is applied when
// it completes (autocommit); BEGIN … COMMIT only tracks the block, so
// that clients see the transaction status they expect, and ROLLBACK does
// not undo writes (documented in the README).
func (c *conn) txStmt(s *pg.TransactionStmt) (*result, error) {
	switch s.GetKind() {
	case pg.TransactionStmtKind_TRANS_STMT_BEGIN, pg.TransactionStmtKind_TRANS_STMT_START:
		if c.tx != 'I' {
			c.notice("25001", "there is already a transaction in progress")
		} else {
			c.tx = 'T'
		}
		return &result{verb: "BEGIN"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT:
		verb := "COMMIT"
		switch c.tx {
		case 'I':
			c.notice("25P01", "there is no transaction in progress")
		case 'E':
			verb = "ROLLBACK"
		}
		c.tx = 'I'
		return &result{verb: verb}, nil
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		if c.tx == 'I' {
			c.notice("25P01", "there is no transaction in progress")
		}
		c.tx = 'I'
		return &result{verb: "ROLLBACK"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		if c.tx == 'I' {
			return nil, errs.New(errs.ErrInvalidInput, "25P01", "SAVEPOINT can only be used in transaction blocks")
		}
		return &result{verb: "SAVEPOINT"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_RELEASE:
		if c.tx == 'I' {
			return nil, errs.New(errs.ErrInvalidInput, "25P01", "RELEASE SAVEPOINT can only be used in transaction blocks")
		}
		return &result{verb: "RELEASE"}, nil
	case pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		if c.tx == 'I' {
			return nil, errs.New(errs.ErrInvalidInput, "25P01", "ROLLBACK TO SAVEPOINT can only be used in transaction blocks")
		}
		c.tx = 'T'
		return &result{verb: "ROLLBACK"}, nil
	}
	return nil, errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "%s is not supported", strings.TrimPrefix(s.GetKind().String(), "TRANS_STMT_"))
}

func (c *conn) notice(code, msg string) {
	c.be.Send(&pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: code, Message: msg})
}
