package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"
)

// listWriter prints a list as its pages arrive: nothing holds the list.
type listWriter interface {
	page(rows []any) error
	close() error
}

// jsonArray writes an indented JSON array one element at a time; the
// output is the same as encoding the whole slice with two-space indents.
type jsonArray struct {
	w *bufio.Writer
	n int
}

func newJSONArray(w io.Writer) *jsonArray { return &jsonArray{w: bufio.NewWriterSize(w, 64<<10)} }

func (j *jsonArray) page(rows []any) error {
	for _, r := range rows {
		data, err := json.MarshalIndent(r, "  ", "  ")
		if err != nil {
			return fmt.Errorf("encode JSON: %w", err)
		}
		sep := ",\n  "
		if j.n == 0 {
			sep = "[\n  "
		}
		j.n++
		j.w.WriteString(sep)
		j.w.Write(data)
	}
	return j.w.Flush()
}

func (j *jsonArray) close() error {
	if j.n == 0 {
		j.w.WriteString("[]\n")
	} else {
		j.w.WriteString("\n]\n")
	}
	return j.w.Flush()
}

// table writes aligned columns without holding the rows: the widths are
// the header's and the first page's, and a later wider cell pushes the
// rest of its line rather than being cut.
type table struct {
	w      *bufio.Writer
	header []string
	cells  func(row any) []string
	widths []int
	rows   int
}

func newTable(w io.Writer, header []string, cells func(any) []string) *table {
	return &table{w: bufio.NewWriterSize(w, 64<<10), header: header, cells: cells}
}

func (t *table) page(rows []any) error {
	lines := make([][]string, len(rows))
	for i, r := range rows {
		lines[i] = t.cells(r)
	}
	if t.widths == nil {
		t.widths = make([]int, len(t.header))
		for _, l := range append([][]string{t.header}, lines...) {
			for c, cell := range l {
				t.widths[c] = max(t.widths[c], utf8.RuneCountInString(cell))
			}
		}
		t.line(t.header)
	}
	for _, l := range lines {
		t.line(l)
	}
	t.rows += len(rows)
	return t.w.Flush()
}

func (t *table) line(cells []string) {
	for c, cell := range cells {
		if c == len(cells)-1 {
			t.w.WriteString(cell)
			break
		}
		t.w.WriteString(cell)
		t.w.WriteString(strings.Repeat(" ", max(t.widths[c]-utf8.RuneCountInString(cell), 0)+2))
	}
	t.w.WriteByte('\n')
}

func (t *table) close() error {
	if t.widths == nil {
		return t.page(nil) // the header alone
	}
	return t.w.Flush()
}

// newNodeTable is the nodes command's table.
func newNodeTable(w io.Writer) *table {
	return newTable(w, []string{"ID", "SHARD", "ROLE", "NICKNAME", "STATE", "IMAGE", "GROUP", "CREATED", "UPDATED", "REASON"},
		func(row any) []string {
			n := row.(regapi.Node)
			return []string{fmt.Sprint(n.ID), n.Shard, n.Role, n.Nickname, string(n.State), orDash(n.ImageID), orDash(n.Group),
				n.Created.UTC().Format(time.RFC3339), n.Updated.UTC().Format(time.RFC3339), orDash(shorten(n.Reason, maxReasonColumn))}
		})
}
