package fetcher

import (
	"container/list"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/opencontainers/go-digest"
)

// tarFile is, in a cache entry next to packages.RootDir, the uncompressed
// tar the fetcher answers.
const tarFile = "package.tar"

// index accounts for the cache's entries, ordered by when they were last
// served, and evicts the least recent beyond max bytes. It is the fetcher's
// view of the cache: only entries it filled are in it.
type index struct {
	// trash is a directory on the cache's file system where an evicted
	// entry is moved, in one rename, before it is removed: no one finds a
	// half-removed entry.
	trash string

	mu      sync.Mutex // guards every field below
	max     int64
	total   int64
	seq     int
	lru     *list.List // of *cached; front: served most recently
	entries map[digest.Digest]*list.Element
}

type cached struct {
	d    digest.Digest
	dir  string // the entry, holding tarFile
	size int64
}

func newIndex(trash string, max int64) *index {
	return &index{trash: trash, max: max, lru: list.New(), entries: make(map[digest.Digest]*list.Element)}
}

// open opens the tar of d if it is cached, and counts it as served now.
// Opening under the lock orders it before any eviction of d: a file open
// is readable to its end, whatever happens to the entry after.
func (x *index) open(d digest.Digest) (*os.File, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	el, ok := x.entries[d]
	if !ok {
		return nil, false, nil
	}
	c := el.Value.(*cached)
	f, err := os.Open(filepath.Join(c.dir, tarFile))
	if errors.Is(err, fs.ErrNotExist) {
		// Not where it was indexed (moved by a concurrent fill): a miss.
		x.drop(el)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("open cached package %s: %w", d, err)
	}
	x.lru.MoveToFront(el)
	return f, true, nil
}

// add records the entry dir of d, of size bytes, as served now, and evicts
// the entries served least recently while the total is above max (but never
// d). It returns the directories to remove, outside the lock, and the new
// total.
func (x *index) add(d digest.Digest, dir string, size int64) ([]string, int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if el, ok := x.entries[d]; ok {
		c := el.Value.(*cached)
		x.total += size - c.size
		c.dir, c.size = dir, size
		x.lru.MoveToFront(el)
	} else {
		x.entries[d] = x.lru.PushFront(&cached{d: d, dir: dir, size: size})
		x.total += size
	}
	var remove []string
	for x.total > x.max && x.lru.Len() > 1 {
		el := x.lru.Back()
		c := el.Value.(*cached)
		x.drop(el)
		x.seq++
		moved := filepath.Join(x.trash, fmt.Sprintf("%s-%d", c.d.Encoded(), x.seq))
		if err := os.Rename(c.dir, moved); err != nil {
			moved = c.dir
		}
		remove = append(remove, moved)
	}
	return remove, x.total
}

// drop forgets el; x.mu is held.
func (x *index) drop(el *list.Element) {
	c := el.Value.(*cached)
	x.lru.Remove(el)
	delete(x.entries, c.d)
	x.total -= c.size
}

// len is the number of entries and their bytes.
func (x *index) len() (int, int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lru.Len(), x.total
}
