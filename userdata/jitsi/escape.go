package jitsi

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// PropertiesValue escapes s as the value of a line in a Java .properties file,
// the way java.util.Properties.store does: backslash escapes for '\\', '=', ':',
// '#', '!', a leading space and the control characters, and \uXXXX for every
// character outside printable ASCII, so the file reads back the same whether
// Java loads it as ISO-8859-1 (Properties.load(InputStream)) or as UTF-8.
func PropertiesValue(s string) string { return propertiesEscape(s, false) }

// PropertiesKey escapes s as a key: like a value, and every space too.
func PropertiesKey(s string) string { return propertiesEscape(s, true) }

func propertiesEscape(s string, key bool) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s {
		switch {
		case r == ' ':
			if key || i == 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(' ')
		case r == '\\' || r == '=' || r == ':' || r == '#' || r == '!':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r > 0x7e:
			if r1, r2 := utf16.EncodeRune(r); r1 != 0xFFFD || r2 != 0xFFFD {
				fmt.Fprintf(&b, `\u%04X\u%04X`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04X`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// HOCONString returns s as a HOCON quoted string (HOCON quoted strings are JSON
// strings): '"' and '\\' escaped, control characters as \uXXXX, everything
// else literal UTF-8 (Typesafe Config reads files as UTF-8). "${" inside a
// quoted string is not a substitution, so no value can reach outside it.
func HOCONString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ShellValue returns s double-quoted for a KEY=value line that both a POSIX
// shell (`. file`) and systemd's EnvironmentFile= read back as s: inside
// double quotes both take \" \\ \$ and \` as the escaped character and do not
// expand anything else systemd knows. Values must not contain newlines or
// NULs (node.Spec validation rejects control characters).
func ShellValue(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' || r == '$' || r == '`' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
