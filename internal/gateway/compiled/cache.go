package compiled

import (
	"container/list"
	"sync"
)

// Cache holds compiled code by code key, least recently used first out
// when the bytes it holds would exceed its bound. It is safe for
// concurrent use.
type Cache struct {
	max int

	mu    sync.Mutex
	size  int                      // guarded by mu
	order *list.List               // of *entry, most recently used first; guarded by mu
	byKey map[string]*list.Element // guarded by mu
}

type entry struct {
	key string
	pyc []byte
}

// NewCache makes a Cache of at most maxBytes of compiled code; 0 keeps
// nothing.
func NewCache(maxBytes int) *Cache {
	return &Cache{max: maxBytes, order: list.New(), byKey: map[string]*list.Element{}}
}

// Compiled returns the compiled code of key, or nil.
func (c *Cache) Compiled(key string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[key]
	if e == nil {
		return nil
	}
	c.order.MoveToFront(e)
	return e.Value.(*entry).pyc
}

// Has reports whether key is held, without making it recently used.
func (c *Cache) Has(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byKey[key] != nil
}

// Put keeps pyc as key's compiled code, dropping the least recently used
// entries to make room. Code larger than the whole bound is not kept.
func (c *Cache) Put(key string, pyc []byte) {
	if len(pyc) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byKey[key]; e != nil {
		c.size -= len(e.Value.(*entry).pyc)
		c.order.Remove(e)
		delete(c.byKey, key)
	}
	for c.size+len(pyc) > c.max {
		last := c.order.Back()
		old := last.Value.(*entry)
		c.size -= len(old.pyc)
		c.order.Remove(last)
		delete(c.byKey, old.key)
	}
	c.byKey[key] = c.order.PushFront(&entry{key: key, pyc: pyc})
	c.size += len(pyc)
}

// Len returns how many entries and bytes are held.
func (c *Cache) Len() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.size
}
