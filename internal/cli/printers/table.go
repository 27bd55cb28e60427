package printers

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Table is rows of cells under a header, printed with columns aligned and
// separated by three spaces, as kubectl does.
type Table struct {
	Header []string
	Rows   [][]string
}

// Append adds a row.
func (t *Table) Append(cells ...string) { t.Rows = append(t.Rows, cells) }

// Write prints the table; with no rows it prints nothing.
func (t *Table) Write(w io.Writer) error {
	return t.write(w, "")
}

// WriteIndented prints the table with every line indented, for sections
// of a description.
func (t *Table) WriteIndented(w io.Writer, indent string) error {
	return t.write(w, indent)
}

func (t *Table) write(w io.Writer, indent string) error {
	if len(t.Rows) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, indent+strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, indent+strings.Join(r, "\t"))
	}
	return tw.Flush()
}
