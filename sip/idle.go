package sip

import (
	"net"
	"time"
)

// idleListener hands out TCP connections that close when their peer sends
// nothing for idle (sip.limits.tcp_idle_timeout): an idle connection holds
// a goroutine and a file descriptor, and hundreds left open used to pile
// up. A phone keeps its connection with its re-REGISTERs or CRLF
// keep-alives (RFC 5626).
type idleListener struct {
	net.Listener
	idle time.Duration
}

// Accept wraps the next connection.
func (l idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &idleConn{Conn: c, idle: l.idle}, nil
}

type idleConn struct {
	net.Conn
	idle time.Duration
}

// Read waits at most idle for data.
func (c *idleConn) Read(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}
