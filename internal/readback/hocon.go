package readback

import (
	"encoding/json"
	"fmt"
	"strings"
)

// HOCON parses the subset of HOCON that Jitsi's config files use: nested
// objects, dotted and quoted keys, = or : separators, quoted strings (JSON
// strings), unquoted scalars, arrays, comments, and ${…} substitutions (kept
// as the Substitution type, not resolved). Duplicate object keys merge, as in
// HOCON. The result maps keys to string, Substitution, []any or map[string]any.
func HOCON(data string) (map[string]any, error) {
	p := &hoconParser{s: data}
	root := map[string]any{}
	if err := p.fields(root, false); err != nil {
		return nil, fmt.Errorf("hocon: offset %d: %w", p.i, err)
	}
	return root, nil
}

// Substitution is an unresolved ${path} or ${?path}.
type Substitution string

// Lookup follows keys through nested objects.
func Lookup(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

type hoconParser struct {
	s string
	i int
}

func (p *hoconParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// skip passes white space and comments; newlines too when nl is true.
func (p *hoconParser) skip(nl bool) {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || (nl && c == '\n'):
			p.i++
		case c == '#' || strings.HasPrefix(p.s[p.i:], "//"):
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

func (p *hoconParser) fields(obj map[string]any, braced bool) error {
	for {
		p.skip(true)
		for p.peek() == ',' {
			p.i++
			p.skip(true)
		}
		switch c := p.peek(); {
		case c == 0:
			if braced {
				return fmt.Errorf("unclosed '{'")
			}
			return nil
		case c == '}':
			if !braced {
				return fmt.Errorf("unexpected '}'")
			}
			p.i++
			return nil
		}
		path, err := p.key()
		if err != nil {
			return err
		}
		p.skip(false)
		switch p.peek() {
		case '=', ':':
			p.i++
			p.skip(false)
		case '{':
		default:
			return fmt.Errorf("expected '=', ':' or '{' after key %q", strings.Join(path, "."))
		}
		v, err := p.value()
		if err != nil {
			return err
		}
		set(obj, path, v)
	}
}

func set(obj map[string]any, path []string, v any) {
	for _, k := range path[:len(path)-1] {
		next, ok := obj[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			obj[k] = next
		}
		obj = next
	}
	last := path[len(path)-1]
	if nv, ok := v.(map[string]any); ok {
		if old, ok := obj[last].(map[string]any); ok {
			for k, x := range nv {
				set(old, []string{k}, x)
			}
			return
		}
	}
	obj[last] = v
}

func (p *hoconParser) key() ([]string, error) {
	var path []string
	var cur strings.Builder
	quotedAny := false
	for {
		c := p.peek()
		switch {
		case c == '"':
			s, err := p.quoted()
			if err != nil {
				return nil, err
			}
			cur.WriteString(s)
			quotedAny = true
		case c == '.':
			path = append(path, cur.String())
			cur.Reset()
			p.i++
		case c == 0 || strings.IndexByte(" \t\r\n=:{}[],#", c) >= 0:
			if cur.Len() == 0 && !quotedAny && len(path) == 0 {
				return nil, fmt.Errorf("expected a key, found %q", c)
			}
			return append(path, cur.String()), nil
		default:
			cur.WriteByte(c)
			p.i++
		}
	}
}

func (p *hoconParser) quoted() (string, error) {
	start := p.i
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case '\n':
			return "", fmt.Errorf("newline in quoted string")
		case '"':
			p.i++
			var s string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &s); err != nil {
				return "", fmt.Errorf("quoted string: %w", err)
			}
			return s, nil
		}
		p.i++
	}
	return "", fmt.Errorf("unterminated quoted string")
}

func (p *hoconParser) value() (any, error) {
	switch c := p.peek(); {
	case c == '{':
		p.i++
		obj := map[string]any{}
		return obj, p.fields(obj, true)
	case c == '[':
		p.i++
		var arr []any
		for {
			p.skip(true)
			for p.peek() == ',' {
				p.i++
				p.skip(true)
			}
			if p.peek() == ']' {
				p.i++
				return arr, nil
			}
			if p.peek() == 0 {
				return nil, fmt.Errorf("unclosed '['")
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
	case c == '"':
		return p.quoted()
	case strings.HasPrefix(p.s[p.i:], "${"):
		end := strings.IndexByte(p.s[p.i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed substitution")
		}
		sub := Substitution(p.s[p.i+2 : p.i+end])
		p.i += end + 1
		return sub, nil
	default:
		start := p.i
		for p.i < len(p.s) && strings.IndexByte("\n,}]#\"$", p.s[p.i]) < 0 {
			p.i++
		}
		v := strings.TrimSpace(p.s[start:p.i])
		if v == "" {
			return nil, fmt.Errorf("expected a value")
		}
		return v, nil
	}
}
