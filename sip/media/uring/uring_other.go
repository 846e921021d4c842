//go:build !linux || !(amd64 || arm64)

package uring

import (
	"errors"
	"unsafe"
)

// MaxPacket is the largest datagram a batch takes.
const MaxPacket = 512

// ErrUnsupported: io_uring is built only for Linux on 64-bit amd64 and arm64.
var ErrUnsupported = errors.New("io_uring unavailable on this platform")

// Ring is never created here.
type Ring struct{}

// New always fails with ErrUnsupported.
func New(entries uint32) (*Ring, error) { return nil, ErrUnsupported }

// Cap is 0.
func (r *Ring) Cap() int { return 0 }

// Len is 0.
func (r *Ring) Len() int { return 0 }

// Add queues nothing.
func (r *Ring) Add(fd int, pkt []byte, addr unsafe.Pointer, addrLen uint32) bool { return false }

// Submit sends nothing.
func (r *Ring) Submit() (failed int, err error) { return 0, ErrUnsupported }

// Close does nothing.
func (r *Ring) Close() {}
