package podlogs

import (
	"bufio"
	"errors"
	"io"
	"sync"
)

// lineWriter writes whole lines, each prefixed, from several streams to
// one writer without interleaving them.
type lineWriter struct {
	mu sync.Mutex // guards w: one line at a time
	w  io.Writer
}

// copyLines copies r to the lineWriter line by line, each prefixed with
// "[prefix] "; a last line without a newline gets one. It returns how
// many lines it wrote and the read error, nil at EOF.
func (lw *lineWriter) copyLines(prefix string, r io.Reader) (int, error) {
	br := bufio.NewReaderSize(r, 64*1024)
	head := []byte("[" + prefix + "] ")
	n := 0
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if line[len(line)-1] != '\n' {
				line = append(line, '\n')
			}
			lw.mu.Lock()
			_, werr := lw.w.Write(append(head[:len(head):len(head)], line...))
			lw.mu.Unlock()
			if werr != nil {
				return n, werr
			}
			n++
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
