package httpapi

import (
	"net/http/httputil"
	"sync"
)

// bufSize is the size of the proxy's copy buffers.
const bufSize = 32 * 1024

// bufferPool shares the proxy's copy buffers across calls. It keeps array
// pointers, not slices, so that putting a buffer back allocates nothing.
type bufferPool struct{ p sync.Pool }

var _ httputil.BufferPool = (*bufferPool)(nil)

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { return new([bufSize]byte) }}}
}

func (b *bufferPool) Get() []byte { return b.p.Get().(*[bufSize]byte)[:] }

func (b *bufferPool) Put(buf []byte) {
	if cap(buf) < bufSize {
		return // not one of ours
	}
	b.p.Put((*[bufSize]byte)(buf[:bufSize]))
}
