// Package readback parses the files the project renders the way their real
// readers do, so tests can prove that every value comes back byte-identical:
// Java's Properties.load rules, HOCON (the subset Jitsi's files use, with
// JSON-string semantics for quoted strings), and POSIX shell assignments run
// by a real shell interpreter (mvdan.cc/sh).
//
// Tests and fuzz targets use it; the Java round-trip tests additionally check
// the same files with the JDK and Typesafe Config themselves.
package readback

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
)

// JavaProperties parses data as java.util.Properties.load(Reader) does.
func JavaProperties(data string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines: an odd number of trailing backslashes.
		for endsWithOddBackslashes(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsWithOddBackslashes(line) {
			line = line[:len(line)-1]
		}
		keyEnd, valStart := len(line), len(line)
		for j := 0; j < len(line); j++ {
			c := line[j]
			if c == '\\' {
				j++
				continue
			}
			if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
				keyEnd = j
				k := j
				for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '\f') {
					k++
				}
				if k < len(line) && (line[k] == '=' || line[k] == ':') {
					k++
				}
				for k < len(line) && (line[k] == ' ' || line[k] == '\t' || line[k] == '\f') {
					k++
				}
				valStart = k
				break
			}
		}
		key, err := unescapeProperties(line[:keyEnd])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		val, err := unescapeProperties(line[valStart:])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		out[key] = val
	}
	return out, nil
}

func endsWithOddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func unescapeProperties(s string) (string, error) {
	var units []uint16
	flush := func(b *strings.Builder) {
		if len(units) > 0 {
			b.WriteString(string(utf16.Decode(units)))
			units = units[:0]
		}
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			flush(&b)
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'u':
			if i+5 > len(s) {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			v, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uxxxx encoding")
			}
			units = append(units, uint16(v))
			i += 4
			continue
		case 't':
			flush(&b)
			b.WriteByte('\t')
		case 'n':
			flush(&b)
			b.WriteByte('\n')
		case 'r':
			flush(&b)
			b.WriteByte('\r')
		case 'f':
			flush(&b)
			b.WriteByte('\f')
		default:
			flush(&b)
			b.WriteByte(s[i])
		}
	}
	flush(&b)
	return b.String(), nil
}
