// Package yamldoc marshals a typed value into one YAML document with yaml.v3
// (two-space indentation, a header line before it), the way every document
// the project generates is written: cloud-config user-data, node.yaml,
// secrets.yaml. Values come from typed structs, never templates, so no
// value can change a document's structure.
//
// Each call takes a new yaml.v3 Encoder: a reused one keeps every event it
// ever emitted (its queue only grows), so pooling them would leak.
package yamldoc

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// Marshal returns header followed by v as one YAML document. The same v
// always gives the same bytes.
func Marshal(header string, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	return buf.Bytes(), nil
}

// Writer writes a handful of documents (one node's files) with one yaml.v3
// encoder, which costs more to set up than a small document to write. Its
// event queue grows with every document: use a Writer for one node, not for
// a fleet.
type Writer struct {
	buf bytes.Buffer
	enc *yaml.Encoder
}

// NewWriter returns a Writer.
func NewWriter() *Writer {
	w := &Writer{}
	w.enc = yaml.NewEncoder(&w.buf)
	w.enc.SetIndent(2)
	return w
}

// Marshal is the package's Marshal, on w's encoder: the same bytes.
func (w *Writer) Marshal(header string, v any) ([]byte, error) {
	w.buf.Reset()
	if err := w.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal %T: %w", v, err)
	}
	// Documents after the first start with a separator: not part of ours.
	doc := bytes.TrimPrefix(w.buf.Bytes(), []byte("---\n"))
	out := make([]byte, 0, len(header)+len(doc))
	return append(append(out, header...), doc...), nil
}
