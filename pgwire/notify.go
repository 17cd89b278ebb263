package pgwire

import (
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/ugnos/ugnos"
)

// LISTEN / UNLISTEN / notifications. A connection that listens gets a
// ugnos.Listener and a goroutine that moves its notifications to the
// connection's pending list. They are written as NotificationResponse
// messages when the connection is idle (after ReadyForQuery, by that
// goroutine) or, while a statement runs, just before its ReadyForQuery,
// as PostgreSQL does. The pending list is bounded: a client that does not
// read loses notifications (logged), and never delays the sender.

// maxPendingNotes bounds the notifications waiting on one connection.
const maxPendingNotes = 1024

// notifyWriteTimeout bounds writing notifications to an idle client.
const notifyWriteTimeout = 10 * time.Second

func (c *conn) listenStmt(n *pg.ListenStmt) *result {
	if c.lis == nil {
		c.lis = c.srv.db.NewListener(c.tenant, maxPendingNotes)
		go c.deliverNotes(c.lis.C())
	}
	c.lis.Listen(n.GetConditionname())
	return &result{verb: "LISTEN"}
}

func (c *conn) unlistenStmt(n *pg.UnlistenStmt) *result {
	if c.lis != nil {
		name := n.GetConditionname()
		if name == "" {
			name = "*"
		}
		c.lis.Unlisten(name)
	}
	return &result{verb: "UNLISTEN"}
}

// closeListener stops listening when the connection ends.
func (c *conn) closeListener() {
	if c.lis != nil {
		c.lis.Close()
	}
}

// deliverNotes runs while the connection listens.
func (c *conn) deliverNotes(ch <-chan ugnos.Notification) {
	for n := range ch {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			continue
		}
		if len(c.notes) >= maxPendingNotes {
			c.srv.log.Warn("pgwire: notification dropped: the client is not reading", "pid", c.pid, "channel", n.Channel)
		} else {
			c.notes = append(c.notes, n)
		}
		if c.idle && !c.busy {
			_ = c.nc.SetWriteDeadline(time.Now().Add(notifyWriteTimeout))
			c.sendNotesLocked()
			_ = c.be.Flush()
			_ = c.nc.SetWriteDeadline(time.Time{})
		}
		c.mu.Unlock()
	}
}

// sendNotesLocked queues the pending notifications on the backend (the
// caller flushes). Caller holds c.mu and owns the backend (the
// connection's goroutine, or nobody else is writing: idle).
func (c *conn) sendNotesLocked() {
	for _, n := range c.notes {
		c.be.Send(&pgproto3.NotificationResponse{PID: uint32(n.PID), Channel: n.Channel, Payload: n.Payload})
	}
	c.notes = c.notes[:0]
}
