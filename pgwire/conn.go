package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos"
	"github.com/ugnos/ugnos/errs"
	"github.com/ugnos/ugnos/sql"
)

var (
	errUserCancel     = errs.New(errs.ErrInvalidInput, "57014", "canceling statement due to user request")
	errTimeoutCancel  = errs.New(errs.ErrInvalidInput, "57014", "canceling statement due to statement timeout")
	errShutdownCancel = errs.New(errs.ErrInvalidInput, errs.CodeAdminShutdown, "terminating connection due to administrator command")
)

// conn is one client connection.
type conn struct {
	srv    *Server
	nc     net.Conn
	be     *pgproto3.Backend
	pid    uint32
	secret uint32

	tls          bool // the connection is TLS
	user, tenant string
	sess         *session
	types        *pgtype.Map

	tx        byte // 'I' idle, 'T' in a transaction block, 'E' failed transaction
	skipSync  bool // an extended-protocol error: skip to the next Sync
	stmts     map[string]*prepared
	portals   map[string]*portal
	rowValues [][]byte
	out       []byte // encoded DataRows not yet written

	mu      sync.Mutex
	busy    bool
	closing bool
	started bool                    // start-up done; under mu
	running context.CancelCauseFunc // the statement now running, if any
	idle    bool                    // ReadyForQuery sent and no message since; under mu
	lis     *ugnos.Listener         // set by the first LISTEN (notify.go)
	release func()                  // ends the connection's count against its database's CONNECTION LIMIT
	notes   []ugnos.Notification    // notifications not yet sent; under mu
}

// prepared is a statement from Parse.
type prepared struct {
	text   string
	stmt   *sql.Statement // nil for an empty query
	params []uint32       // parameter type OIDs
	cols   []pgproto3.FieldDescription
	rows   bool // the statement returns rows
}

// portal is a bound statement, possibly part-way through its rows.
type portal struct {
	stmt    *prepared
	args    []any
	formats []int16
	// set once it runs
	ctx    context.Context
	cancel context.CancelCauseFunc
	res    *result
	done   bool
}

func (c *conn) logf(msg string, args ...any) {
	c.srv.log.Debug(msg, append([]any{"pid", c.pid, "remote", c.nc.RemoteAddr().String()}, args...)...)
}

func (c *conn) serve() {
	defer c.srv.dropConn(c)
	defer func() {
		if c.release != nil {
			c.release()
		}
	}()
	defer c.nc.Close()
	defer c.closePortals()
	defer c.closeListener()
	defer func() {
		// a bug must cost one connection, not the server
		if v := recover(); v != nil {
			c.srv.log.Error("pgwire: panic serving a connection", "pid", c.pid, "panic", v, "stack", string(debug.Stack()))
			c.sendFatal(errs.New(errs.ErrInternal, errs.CodeInternal, "internal error: %v", v))
		}
	}()
	if !c.startup() {
		return
	}
	c.mu.Lock()
	c.started = true
	c.idle = true
	c.mu.Unlock()
	for {
		msg, err := c.be.Receive()
		if err != nil {
			var big *pgproto3.ExceededMaxBodyLenErr
			switch {
			case errors.As(err, &big):
				c.discard(big.ActualBodyLen)
				c.fatal(errs.New(errs.ErrInvalidInput, "08P01", "message of %d bytes is over the server's limit of %d bytes (MaxMessageBytes)", big.ActualBodyLen, big.MaxExpectedBodyLen))
			case !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF):
				c.fatal(errs.New(errs.ErrInvalidInput, "08P01", "invalid message: %v", err))
			}
			return
		}
		if !c.enter() {
			return
		}
		keep := c.handle(msg)
		if !c.leave() || !keep {
			return
		}
	}
}

// discard reads and drops the rest of an oversize message (n bytes
// announced, of which the protocol reader may hold a few already) before
// the connection is closed, as PostgreSQL's pq_discardbytes does: closing
// a socket with unread data resets it, and the client, still sending,
// would never read the error. It gives up after 1 GiB, a second without
// data or 30 seconds in all.
func (c *conn) discard(n int) {
	if n > 1<<30 {
		return
	}
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	defer nc.SetReadDeadline(time.Time{})
	deadline := time.Now().Add(30 * time.Second)
	buf := make([]byte, 64<<10)
	for left := n - 64<<10; left > 0; {
		d := time.Now().Add(time.Second)
		if d.After(deadline) {
			d = deadline
		}
		nc.SetReadDeadline(d)
		k, err := nc.Read(buf[:min(len(buf), left)])
		left -= k
		if err != nil {
			return
		}
	}
}

// enter marks the connection busy; false when the server is shutting down.
func (c *conn) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.busy = true
	c.idle = false
	return true
}

func (c *conn) leave() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy = false
	if c.closing {
		c.sendFatal(errShutdownCancel)
		return false
	}
	if c.idle && len(c.notes) > 0 {
		c.sendNotesLocked()
		_ = c.be.Flush()
	}
	return true
}

// shutdown closes the connection now if it is idle, else after the
// message it is handling.
func (c *conn) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closing = true
	if !c.busy {
		// During start-up the connection's own goroutine uses the
		// backend: only close the socket then (as PostgreSQL drops a
		// half-open start-up).
		if c.started {
			c.sendFatal(errShutdownCancel)
		}
		c.nc.Close()
	}
}

func (c *conn) cancelRunning(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		c.running(cause)
	}
}

// startup runs the start-up exchange; false ends the connection.
func (c *conn) startup() bool {
	_ = c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	for {
		msg, err := c.be.ReceiveStartupMessage()
		if err != nil {
			c.logf("start-up failed", "err", err)
			return false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest:
			if c.srv.cfg.TLS == nil || c.tls {
				// no TLS configured (or already on): continue in the clear
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return false
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return false
			}
			tc := tls.Server(c.nc, c.srv.cfg.TLS)
			if err := tc.Handshake(); err != nil {
				c.logf("TLS handshake failed", "err", err)
				return false
			}
			c.mu.Lock() // Shutdown may close c.nc meanwhile
			c.nc, c.tls = tc, true
			c.mu.Unlock()
			c.be = pgproto3.NewBackend(tc, tc)
			c.be.SetMaxBodyLen(c.srv.cfg.MaxMessageBytes)
		case *pgproto3.GSSEncRequest:
			// no GSS encryption: continue in the clear
			if _, err := c.nc.Write([]byte{'N'}); err != nil {
				return false
			}
		case *pgproto3.CancelRequest:
			c.srv.cancel(m.ProcessID, m.SecretKey)
			return false
		case *pgproto3.StartupMessage:
			return c.accept(m)
		default:
			return false
		}
	}
}

// accept authenticates (trust) and sends the session's parameters.
func (c *conn) accept(m *pgproto3.StartupMessage) bool {
	p := m.Parameters
	c.user = p["user"]
	for k, v := range p { // application_name is cleaned instead, as PostgreSQL does
		if k != "application_name" && !utf8.ValidString(k+v) {
			c.fatal(errs.New(errs.ErrInvalidInput, "22021", "invalid byte sequence for encoding \"UTF8\" in startup parameter %q", strings.ToValidUTF8(k, "?")))
			return false
		}
	}
	if c.user == "" {
		c.fatal(errs.New(errs.ErrInvalidInput, "28000", "no PostgreSQL user name specified in startup packet"))
		return false
	}
	c.tenant = p["database"]
	if c.tenant == "" {
		c.tenant = c.user
	}
	c.sess = newSession(c.srv.ServerVersion(), c.user)
	c.types = pgtype.NewMap()
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 {
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0})
	}
	if err := c.authenticate(c.user); err != nil {
		c.audit("authentication failed", err)
		c.fatal(err)
		return false
	}
	if r, ok := c.srv.db.Role(c.user); ok && !r.Login {
		err := errs.New(errs.ErrInvalidInput, "28000", "role %q is not permitted to log in", c.user)
		c.audit("authentication failed", err)
		c.fatal(err)
		return false
	}
	// after authentication, as in PostgreSQL: which databases exist is no
	// one's business before
	if !c.hasTenant(c.tenant) {
		c.fatal(errs.New(errs.ErrNotFound, errs.CodeInvalidCatalogName, "database %q does not exist", c.tenant))
		return false
	}
	if err := c.srv.db.MayConnect(c.user, c.tenant); err != nil {
		c.audit("connection refused", err)
		c.fatal(err)
		return false
	}
	release, err := c.srv.db.Connect(c.user, c.tenant)
	if err != nil {
		c.audit("connection refused", err)
		c.fatal(err)
		return false
	}
	c.release = release
	// the database's settings (ALTER DATABASE … SET) are the session's
	// defaults; start-up parameters override them, as in PostgreSQL
	c.sess.databaseDefaults(c.srv.db.QuotaSettings(c.tenant))
	for name, v := range p {
		switch name {
		case "user", "database", "replication":
			continue
		case "options":
			if err := c.startupOptions(v); err != nil {
				c.fatal(err)
				return false
			}
			continue
		}
		if _, err := c.sess.set(name, v); err != nil {
			c.fatal(err)
			return false
		}
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	for _, st := range settings {
		if st.report {
			v, _ := c.sess.get(st.name)
			c.be.Send(&pgproto3.ParameterStatus{Name: st.name, Value: v})
		}
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: []byte{byte(c.secret >> 24), byte(c.secret >> 16), byte(c.secret >> 8), byte(c.secret)}})
	c.tx = 'I'
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
	return c.be.Flush() == nil
}

// startupOptions applies the "options" start-up parameter: -c name=value
// and --name=value settings.
func (c *conn) startupOptions(opts string) error {
	fields := strings.Fields(opts)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		var kv string
		switch {
		case f == "-c" && i+1 < len(fields):
			i++
			kv = fields[i]
		case strings.HasPrefix(f, "-c"):
			kv = f[2:]
		case strings.HasPrefix(f, "--"):
			kv = f[2:]
		default:
			return errs.New(errs.ErrInvalidInput, "08P01", "invalid command-line argument for server process: %s", f)
		}
		name, v, ok := strings.Cut(kv, "=")
		if !ok {
			return errs.New(errs.ErrInvalidInput, "08P01", "invalid command-line argument for server process: %s", f)
		}
		if _, err := c.sess.set(strings.ReplaceAll(name, "-", "_"), v); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) hasTenant(name string) bool {
	for _, d := range c.srv.db.Databases() {
		if d == name {
			return true
		}
	}
	return false
}

// handle processes one message; false ends the connection.
func (c *conn) handle(msg pgproto3.FrontendMessage) bool {
	if c.skipSync {
		switch msg.(type) {
		case *pgproto3.Sync:
			c.skipSync = false
		case *pgproto3.Terminate:
			return false
		default:
			return true
		}
	}
	switch m := msg.(type) {
	case *pgproto3.Query:
		c.simpleQuery(m.String)
		c.ready()
	case *pgproto3.Parse:
		c.extended(c.parse(m))
	case *pgproto3.Bind:
		c.extended(c.bind(m))
	case *pgproto3.Describe:
		c.extended(c.describe(m))
	case *pgproto3.Execute:
		c.extended(c.execute(m))
	case *pgproto3.Close:
		if m.ObjectType == 'S' {
			delete(c.stmts, m.Name)
		} else {
			c.closePortal(m.Name)
		}
		c.be.Send(&pgproto3.CloseComplete{})
	case *pgproto3.Sync:
		if c.tx == 'I' {
			c.closePortals()
		}
		c.ready()
	case *pgproto3.Flush:
		_ = c.be.Flush()
	case *pgproto3.Terminate:
		return false
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// left over from a COPY that already failed: ignored, as PostgreSQL does
	case *pgproto3.FunctionCall:
		c.extended(errs.New(errs.ErrInvalidInput, errs.CodeFeatureNotSupported, "the function call protocol message is not supported"))
	default:
		c.fatal(errs.New(errs.ErrInvalidInput, "08P01", "unexpected message type %T", msg))
		return false
	}
	return true
}

// extended reports an extended-protocol error and skips to Sync.
func (c *conn) extended(err error) {
	if err == nil {
		return
	}
	c.sendError(err, 0)
	c.skipSync = true
	if c.tx == 'T' {
		c.tx = 'E'
	}
}

func (c *conn) ready() {
	c.mu.Lock()
	c.sendNotesLocked()
	c.idle = true
	c.mu.Unlock()
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.tx})
	_ = c.be.Flush()
}

// sendError sends an ErrorResponse; offset shifts the error position to
// where the statement starts in the query string (characters).
func (c *conn) sendError(err error, offset int) {
	if errs.SQLState(err) == "42501" {
		c.audit("privilege error", err)
	}
	c.be.Send(errorResponse(err, "ERROR", offset))
}

// audit logs an authentication failure or a privilege error at Warn,
// with who, from where and why (never a password).
func (c *conn) audit(what string, err error) {
	c.srv.log.Warn("audit: "+what, "user", c.user, "database", c.tenant, "remote", c.nc.RemoteAddr().String(),
		"pid", c.pid, "sqlstate", errs.SQLState(err), "error", err.Error())
}

func (c *conn) sendFatal(err error) {
	c.be.Send(errorResponse(err, "FATAL", 0))
	_ = c.be.Flush()
}

func (c *conn) fatal(err error) { c.sendFatal(err) }

func errorResponse(err error, severity string, offset int) *pgproto3.ErrorResponse {
	r := &pgproto3.ErrorResponse{Severity: severity, SeverityUnlocalized: severity, Code: errs.SQLState(err), Message: err.Error()}
	var e *errs.Error
	if errors.As(err, &e) {
		r.Message = e.Error()
		if e.Pos > 0 {
			r.Position = int32(e.Pos + offset)
		}
	}
	if r.Code == errs.CodeInternal {
		r.Message = "internal error: " + r.Message
	}
	return r
}

// simpleQuery runs every statement of a Query message; an error ends the
// message.
func (c *conn) simpleQuery(text string) {
	stmts, err := c.srv.parser.Parse(text)
	if err != nil {
		c.sendError(err, 0)
		c.failTx()
		return
	}
	if len(stmts) == 0 {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return
	}
	for i := range stmts {
		st := &stmts[i]
		p := &portal{stmt: &prepared{text: st.Text, stmt: st}}
		err := c.run(p, 0, true)
		c.closeRunning(p)
		if err != nil {
			c.sendError(err, utf8.RuneCountInString(text[:st.Pos]))
			c.failTx()
			return
		}
	}
}

func (c *conn) failTx() {
	if c.tx == 'T' {
		c.tx = 'E'
	}
}

// parse handles Parse: one statement (or none), its parameter types and
// result columns.
func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return errs.New(errs.ErrInvalidInput, "42P05", "prepared statement %q already exists", m.Name)
		}
	}
	stmts, err := c.srv.parser.Parse(m.Query)
	if err != nil {
		return err
	}
	if len(stmts) > 1 {
		return errs.New(errs.ErrInvalidInput, errs.CodeSyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	ps := &prepared{text: m.Query, params: append([]uint32(nil), m.ParameterOIDs...)}
	if len(stmts) == 1 {
		ps.stmt = &stmts[0]
		if err := c.describeStatement(ps); err != nil {
			return err
		}
	}
	c.stmts[m.Name] = ps
	c.be.Send(&pgproto3.ParseComplete{})
	return nil
}

// describeStatement works out parameter types and result columns.
func (c *conn) describeStatement(ps *prepared) error {
	node := ps.stmt.Node
	if cols, ok := sessionColumns(node); ok {
		ps.cols, ps.rows = cols, cols != nil
		return nil
	}
	d, err := c.srv.db.Describe(ugnos.WithSession(context.Background(), c.clientSession()), c.tenant, ps.stmt.Text)
	if err != nil {
		return err
	}
	for i, p := range d.Params {
		if i < len(ps.params) {
			if ps.params[i] == 0 {
				ps.params[i] = oidByName(p)
			}
			continue
		}
		ps.params = append(ps.params, oidByName(p))
	}
	for _, col := range d.Columns {
		oid := oidByName(col.Type)
		if col.PGType != "" {
			oid = announced(sqlTypeByName(col.Type), col.PGType)
		}
		ps.cols = append(ps.cols, pgproto3.FieldDescription{Name: []byte(col.Name), DataTypeOID: oid, DataTypeSize: typeSize(oid), TypeModifier: -1})
	}
	ps.rows = node.GetSelectStmt() != nil || node.GetExplainStmt() != nil
	if ps.rows && len(ps.cols) == 0 && node.GetExplainStmt() != nil {
		ps.cols = []pgproto3.FieldDescription{textField("QUERY PLAN")}
	}
	return nil
}

func textField(name string) pgproto3.FieldDescription {
	return pgproto3.FieldDescription{Name: []byte(name), DataTypeOID: oidText, DataTypeSize: -1, TypeModifier: -1}
}

// bind handles Bind: decodes the parameters into a portal.
func (c *conn) bind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return errs.New(errs.ErrNotFound, "26000", "prepared statement %q does not exist", m.PreparedStatement)
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return errs.New(errs.ErrInvalidInput, "42P03", "cursor %q already exists", m.DestinationPortal)
		}
	} else {
		c.closePortal("")
	}
	if len(m.Parameters) != len(ps.params) {
		return errs.New(errs.ErrInvalidInput, "08P01", "bind message supplies %d parameters, but prepared statement %q requires %d", len(m.Parameters), m.PreparedStatement, len(ps.params))
	}
	if n := len(m.ParameterFormatCodes); n > 1 && n != len(m.Parameters) {
		return errs.New(errs.ErrInvalidInput, "08P01", "bind message has %d parameter formats but %d parameters", n, len(m.Parameters))
	}
	args := make([]any, len(m.Parameters))
	for i, raw := range m.Parameters {
		v, err := decodeParam(c.types, ps.params[i], formatOf(m.ParameterFormatCodes, i), raw)
		if err != nil {
			return err
		}
		args[i] = v
	}
	for _, f := range m.ResultFormatCodes {
		if f != 0 && f != 1 {
			return errs.New(errs.ErrInvalidInput, "08P01", "unsupported format code: %d", f)
		}
	}
	c.portals[m.DestinationPortal] = &portal{stmt: ps, args: args, formats: append([]int16(nil), m.ResultFormatCodes...)}
	c.be.Send(&pgproto3.BindComplete{})
	return nil
}

// describe handles Describe of a statement or portal.
func (c *conn) describe(m *pgproto3.Describe) error {
	if m.ObjectType == 'S' {
		ps, ok := c.stmts[m.Name]
		if !ok {
			return errs.New(errs.ErrNotFound, "26000", "prepared statement %q does not exist", m.Name)
		}
		c.be.Send(&pgproto3.ParameterDescription{ParameterOIDs: ps.params})
		if !ps.rows {
			c.be.Send(&pgproto3.NoData{})
			return nil
		}
		c.be.Send(&pgproto3.RowDescription{Fields: ps.cols})
		return nil
	}
	p, ok := c.portals[m.Name]
	if !ok {
		return errs.New(errs.ErrNotFound, "34000", "portal %q does not exist", m.Name)
	}
	if !p.stmt.rows {
		c.be.Send(&pgproto3.NoData{})
		return nil
	}
	// a query's exact columns come from running it; reading starts at Execute
	if err := c.open(p); err != nil {
		return err
	}
	c.be.Send(&pgproto3.RowDescription{Fields: p.res.fields(p.formats)})
	return nil
}

// execute handles Execute: runs the portal (once) and sends up to
// MaxRows rows.
func (c *conn) execute(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return errs.New(errs.ErrNotFound, "34000", "portal %q does not exist", m.Portal)
	}
	if p.stmt.stmt == nil {
		c.be.Send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	if p.done {
		// an exhausted portal completes again with no rows
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(p.res.tag(0))})
		return nil
	}
	err := c.run(p, int(m.MaxRows), false)
	if err != nil {
		c.closeRunning(p)
	}
	return err
}

// open runs a portal's statement (if not yet run) under the session's
// statement_timeout and makes it cancellable.
func (c *conn) open(p *portal) error {
	if p.res != nil {
		return nil
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if d := c.sess.statementTimeout(); d > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, d, errTimeoutCancel)
		inner := cancel
		cancel = func(cause error) { stop(); inner(cause) }
	}
	ctx = ugnos.WithSession(ctx, c.clientSession())
	p.ctx, p.cancel = ctx, cancel
	c.mu.Lock()
	c.running = cancel
	c.mu.Unlock()
	res, err := c.exec(ctx, p)
	if err != nil {
		return canceled(ctx, err)
	}
	p.res = res
	return nil
}

// clientSession tells the engine who runs a statement and the session's
// settings as they are when it starts.
func (c *conn) clientSession() *ugnos.Session {
	settings := make(map[string]string, len(c.sess.values))
	for k, v := range c.sess.values {
		settings[k] = v
	}
	return &ugnos.Session{User: c.user, PID: int64(c.pid), Version: c.srv.ServerVersion(), DictionaryTags: true,
		Setting: func(name string) (string, bool) {
			v, ok := settings[strings.ToLower(name)]
			return v, ok
		}}
}

// canceled maps an error caused by cancelling ctx to its SQLSTATE error.
func canceled(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errs.SQLState(err) == errs.CodeInternal) {
		if cause := context.Cause(ctx); cause != nil {
			var e *errs.Error
			if errors.As(cause, &e) {
				return e
			}
		}
		return errUserCancel
	}
	return err
}

// run executes a portal and streams rows (all when limit is 0). simple
// selects text format for everything.
func (c *conn) run(p *portal, limit int, simple bool) error {
	if c.tx == 'E' && !isTxEnd(p.stmt.stmt.Node) {
		return errs.New(errs.ErrInvalidInput, "25P02", "current transaction is aborted, commands ignored until end of transaction block")
	}
	first := p.res == nil
	if err := c.open(p); err != nil {
		return err
	}
	c.mu.Lock()
	c.running = p.cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = nil
		c.mu.Unlock()
	}()
	res := p.res
	if res.rd == nil {
		c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.tag(0))})
		p.done = true
		return nil
	}
	if simple && first {
		c.be.Send(&pgproto3.RowDescription{Fields: res.fields(nil)})
	}
	more, err := c.sendRows(p, limit)
	if err != nil {
		return canceled(p.ctx, err)
	}
	if more {
		c.be.Send(&pgproto3.PortalSuspended{})
		return nil
	}
	c.be.Send(&pgproto3.CommandComplete{CommandTag: []byte(res.tag(res.sent))})
	p.done = true
	if simple {
		return nil
	}
	res.release()
	return nil
}

// sendRows streams rows of the portal's result until limit (0: all);
// more reports rows left.
func (c *conn) sendRows(p *portal, limit int) (more bool, err error) {
	// rows are encoded (by pgproto3) into the connection's own buffer and
	// written in large pieces: the backend's buffer shrinks to 1 KiB on
	// every flush, so streaming through it would regrow it all the time
	if err := c.be.Flush(); err != nil {
		return false, err
	}
	defer func() {
		if werr := c.writeOut(); err == nil {
			err = werr
		}
	}()
	res := p.res
	enc := c.sess.encoder(c.types)
	sent := 0
	for {
		if res.rec == nil {
			if !res.rd.Next() {
				if err := res.rd.Err(); err != nil {
					return false, err
				}
				return false, nil
			}
			res.rec = res.rd.RecordBatch()
			res.rec.Retain()
			res.off = 0
			if res.cols, err = columnsOf(res.rec, p.formats); err != nil {
				return false, err
			}
			if len(res.enc) < len(res.cols) {
				res.enc = c.takeEncoded(len(res.cols))
				res.done = c.giveEncoded
			}
			for k := range res.cols {
				enc.encodeColumn(&res.cols[k], &res.enc[k])
			}
			res.starts = res.starts[:0]
		}
		n := int(res.rec.NumRows())
		for res.off < n {
			if limit > 0 && sent == limit {
				return true, nil
			}
			c.sendRow(res, res.off)
			res.off++
			res.sent++
			sent++
			if len(c.out) >= outFlushBytes {
				if err := c.writeOut(); err != nil {
					return false, err
				}
			}
		}
		res.rec.Release()
		res.rec = nil
		if err := p.ctx.Err(); err != nil {
			return false, err
		}
	}
}

// outFlushBytes is how much encoded row data is written at once.
const outFlushBytes = 256 << 10

// writeOut writes the encoded rows.
func (c *conn) writeOut() error {
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	c.out = c.out[:0]
	return err
}

// encoders are column encoders of finished results, shared by the
// connections: large results come one after another, so their buffers
// are reused instead of regrown, and the GC drops them when idle.
var encoders sync.Pool

func (c *conn) takeEncoded(n int) []encoded {
	if e, ok := encoders.Get().(*[]encoded); ok && len(*e) >= n {
		return *e
	}
	return make([]encoded, n)
}

func (c *conn) giveEncoded(e []encoded) { encoders.Put(&e) }

// sendRow encodes row i of the current batch (its columns are encoded)
// as a DataRow into the output buffer.
func (c *conn) sendRow(res *result, i int) {
	n := len(res.cols)
	if cap(c.rowValues) < n {
		c.rowValues = make([][]byte, n)
	}
	if len(res.starts) < n { // where each column's next value starts
		res.starts = make([]int, n)
	}
	vals := c.rowValues[:n]
	for k := 0; k < n; k++ {
		e := &res.enc[k]
		end := e.ends[i]
		if end < 0 {
			vals[k] = nil
			continue
		}
		start := res.starts[k]
		vals[k] = e.data[start:end:end]
		res.starts[k] = end
	}
	c.out, _ = (&pgproto3.DataRow{Values: vals}).Encode(c.out)
}

func (c *conn) closeRunning(p *portal) {
	if p.res != nil {
		p.res.release()
	}
	if p.cancel != nil {
		p.cancel(context.Canceled)
	}
}

func (c *conn) closePortal(name string) {
	if p, ok := c.portals[name]; ok {
		c.closeRunning(p)
		delete(c.portals, name)
	}
}

func (c *conn) closePortals() {
	for name := range c.portals {
		c.closePortal(name)
	}
}

// result is a running statement's output.
type result struct {
	rd     array.RecordReader // nil for statements without rows
	schema *arrow.Schema
	verb   string // command tag
	// streaming state
	rec    arrow.RecordBatch
	off    int
	cols   []column
	enc    []encoded       // the batch's columns in their wire format
	done   func([]encoded) // gives enc back to the connection
	starts []int           // per column, where row off's value starts in enc
	sent   int64
}

func (r *result) release() {
	if r.done != nil && r.enc != nil {
		r.done(r.enc)
		r.enc = nil
	}
	if r.rec != nil {
		r.rec.Release()
		r.rec = nil
	}
	if r.rd != nil {
		r.rd.Release()
		r.rd = nil
	}
}

// tag is the CommandComplete tag.
func (r *result) tag(rows int64) string {
	if r.verb == "SELECT" {
		return "SELECT " + strconv.FormatInt(rows, 10)
	}
	return r.verb
}

// fields describes the result columns in the given formats.
func (r *result) fields(formats []int16) []pgproto3.FieldDescription {
	out := make([]pgproto3.FieldDescription, r.schema.NumFields())
	for i, f := range r.schema.Fields() {
		t, err := fieldType(f)
		oid := uint32(oidText)
		if err == nil {
			oid = wireType(f, t)
		}
		out[i] = pgproto3.FieldDescription{Name: []byte(f.Name), DataTypeOID: oid, DataTypeSize: typeSize(oid), TypeModifier: -1, Format: formatOf(formats, i)}
	}
	return out
}

func isTxEnd(n *pg.Node) bool {
	if n == nil || n.GetTransactionStmt() == nil {
		return false
	}
	switch n.GetTransactionStmt().GetKind() {
	case pg.TransactionStmtKind_TRANS_STMT_COMMIT, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK, pg.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		return true
	}
	return false
}

// exec runs a statement: session statements here, the rest in the engine.
func (c *conn) exec(ctx context.Context, p *portal) (*result, error) {
	st := p.stmt.stmt
	if cp := st.Node.GetCopyStmt(); cp != nil {
		return c.copyStmt(ctx, cp)
	}
	if r, ok, err := c.sessionStatement(st.Node); ok {
		return r, err
	}
	res, err := c.srv.db.Exec(ctx, c.tenant, st.Text, p.args...)
	if err != nil {
		return nil, err
	}
	r := &result{rd: res.Rows, verb: res.Tag}
	if res.Rows != nil {
		r.schema = res.Rows.Schema()
	}
	return r, nil
}
