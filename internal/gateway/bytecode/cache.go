package bytecode

import (
	"container/list"
	"sync"
)

// Key names a function's code in one namespace and runtime.
type Key struct {
	Namespace, Runtime string
	// Source is the SHA-256 of the code, computed by the gateway: never a
	// hash a pod reports.
	Source [32]byte
}

// Entry is code compiled by an idle pool pod.
type Entry struct {
	// Tag is what the bytecode is valid for; a runner with another tag
	// compiles the source instead.
	Tag string
	// Base64 is the bytecode as a specialization carries it.
	Base64 []byte
}

// entryOverhead approximates what an entry costs beyond its bytes: the key,
// the map slot and the list element.
const entryOverhead = 160

func (e Entry) cost(k Key) int64 {
	return int64(len(e.Base64) + len(e.Tag) + len(k.Namespace) + len(k.Runtime) + entryOverhead)
}

// Cache is a least-recently-used set of entries within a budget of bytes.
type Cache struct {
	budget int64

	mu    sync.Mutex
	used  int64                 // guarded by mu
	order *list.List            // of *item, most recently used first; guarded by mu
	items map[Key]*list.Element // guarded by mu
}

type item struct {
	key   Key
	entry Entry
}

// NewCache makes a Cache holding at most budget bytes; 0 holds nothing.
func NewCache(budget int64) *Cache {
	return &Cache{budget: budget, order: list.New(), items: map[Key]*list.Element{}}
}

// Get returns the entry of k, now the most recently used.
func (c *Cache) Get(k Key) (Entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return Entry{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*item).entry, true
}

// Put stores e under k, evicting the least recently used entries to stay
// within the budget; an entry larger than the whole budget is not stored.
func (c *Cache) Put(k Key, e Entry) bool {
	cost := e.cost(k)
	if cost > c.budget {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		c.used -= el.Value.(*item).entry.cost(k)
		c.order.Remove(el)
		delete(c.items, k)
	}
	for c.used+cost > c.budget {
		oldest := c.order.Back()
		it := oldest.Value.(*item)
		c.used -= it.entry.cost(it.key)
		c.order.Remove(oldest)
		delete(c.items, it.key)
	}
	c.items[k] = c.order.PushFront(&item{key: k, entry: e})
	c.used += cost
	return true
}

// Has tells whether k is cached, without making it recently used.
func (c *Cache) Has(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.items[k]
	return ok
}

// Size returns the entries and the bytes they count for.
func (c *Cache) Size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items), c.used
}
