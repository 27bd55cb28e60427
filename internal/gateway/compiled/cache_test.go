package compiled

import (
	"slices"
	"testing"
)

func TestCacheKeepsMostRecentlyUsedWithinBound(t *testing.T) {
	type op struct {
		put, get string
		size     int
	}
	tests := []struct {
		name string
		max  int
		ops  []op
		want []string // keys held at the end
	}{
		{"fits", 10, []op{{put: "a", size: 4}, {put: "b", size: 4}}, []string{"a", "b"}},
		{"oldest goes", 10, []op{{put: "a", size: 4}, {put: "b", size: 4}, {put: "c", size: 4}}, []string{"b", "c"}},
		{"a read keeps it", 10, []op{{put: "a", size: 4}, {put: "b", size: 4}, {get: "a"}, {put: "c", size: 4}}, []string{"a", "c"}},
		{"larger than the bound is not kept", 10, []op{{put: "a", size: 4}, {put: "big", size: 11}}, []string{"a"}},
		{"one entry may fill it", 10, []op{{put: "a", size: 4}, {put: "full", size: 10}}, []string{"full"}},
		{"put again replaces", 10, []op{{put: "a", size: 4}, {put: "a", size: 8}, {put: "b", size: 2}}, []string{"a", "b"}},
		{"zero keeps nothing", 0, []op{{put: "a", size: 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCache(tt.max)
			for _, o := range tt.ops {
				if o.put != "" {
					c.Put(o.put, make([]byte, o.size))
				} else {
					c.Compiled(o.get)
				}
			}
			var held []string
			for _, k := range []string{"a", "b", "c", "big", "full"} {
				if c.Has(k) {
					held = append(held, k)
				}
			}
			if !slices.Equal(held, tt.want) {
				t.Errorf("held %v, want %v", held, tt.want)
			}
			if _, size := c.Len(); size > tt.max {
				t.Errorf("holds %d bytes, bound %d", size, tt.max)
			}
		})
	}
}

func TestCacheReturnsWhatWasPut(t *testing.T) {
	c := NewCache(100)
	c.Put("k", []byte("pyc"))
	if got := string(c.Compiled("k")); got != "pyc" {
		t.Errorf("Compiled(k) = %q", got)
	}
	if got := c.Compiled("other"); got != nil {
		t.Errorf("Compiled(other) = %q, want nil", got)
	}
}
