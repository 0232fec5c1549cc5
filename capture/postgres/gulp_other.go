//go:build !linux

package postgres

import "net"

// newGulpConn returns c: reading in gulps needs Linux's SO_RCVLOWAT.
func newGulpConn(c net.Conn) net.Conn { return c }
