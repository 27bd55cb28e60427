package packages

import (
	"errors"
	"fmt"
)

const (
	// DefaultMaxBytes bounds the unpacked size of a package: the sum of its
	// regular files' sizes, over all its layers.
	DefaultMaxBytes int64 = 100 << 20
	// DefaultMaxEntries bounds the number of files and directories of a
	// package, over all its layers. A large dependency set (numpy, pandas
	// and their dependencies) has a few thousand; the bound keeps a hostile
	// archive of empty files from exhausting a node's inodes.
	DefaultMaxEntries = 50_000
)

// Limits bounds what Pack, Unpack and Fetch accept. The zero value means the
// defaults.
type Limits struct {
	// MaxBytes is the most bytes of regular files; 0 means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries is the most files and directories; 0 means DefaultMaxEntries.
	MaxEntries int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	return l
}

// Sentinel errors, wrapped with the offending path or digest.
var (
	// ErrUnsafePath: an absolute name, a ".." component, or a name that is
	// not in canonical form.
	ErrUnsafePath = errors.New("unsafe path")
	// ErrUnsupportedType: anything but a regular file or a directory
	// (symlink, hard link, device, FIFO, socket).
	ErrUnsupportedType = errors.New("unsupported file type")
	// ErrDuplicateEntry: the same name twice in an archive.
	ErrDuplicateEntry = errors.New("duplicate entry")
	// ErrTooLarge: more bytes than Limits.MaxBytes.
	ErrTooLarge = errors.New("package too large")
	// ErrTooManyEntries: more entries than Limits.MaxEntries.
	ErrTooManyEntries = errors.New("too many entries")
	// ErrInvalidArtifact: a manifest or layer that is not a package.
	ErrInvalidArtifact = errors.New("invalid package artifact")
)

// budget counts what an unpack or a pack has used of its Limits, across the
// layers of one artifact.
type budget struct {
	lim     Limits
	bytes   int64
	entries int
}

func newBudget(lim Limits) *budget { return &budget{lim: lim.withDefaults()} }

// entry accounts for one more entry of size bytes (0 for a directory).
func (b *budget) entry(name string, size int64) error {
	b.entries++
	if b.entries > b.lim.MaxEntries {
		return fmt.Errorf("%s: %w: more than %d", name, ErrTooManyEntries, b.lim.MaxEntries)
	}
	if size < 0 || size > b.lim.MaxBytes-b.bytes {
		return fmt.Errorf("%s: %w: more than %d bytes", name, ErrTooLarge, b.lim.MaxBytes)
	}
	b.bytes += size
	return nil
}
