package node

import (
	"crypto/rand"
	"math"
	"strings"
	"unicode/utf8"
)

// The bridges' secret is the password of the jvb account on the JMS's XMPP
// server, which listens on the internet for them: nothing else stands
// between an attacker and the XMPP server's bridge account. So the CLI
// refuses a secret weaker than MinSecretBits (unless told otherwise) and can
// make a strong one.

// MinSecretBits is the estimated strength below which a secret is refused.
const MinSecretBits = 96

// GeneratedSecretLen is the length of NewSecret's secrets: 32 characters of
// 62, about 190 bits.
const GeneratedSecretLen = 32

// secretAlphabet holds the characters of generated secrets: letters and
// digits only, so a secret needs no quoting or escaping in any format it
// lands in (Java properties, HOCON, shell, debconf, XMPP SASL, YAML).
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewSecret returns a random secret of GeneratedSecretLen characters of
// secretAlphabet, each chosen uniformly (rejection sampling: no modulo bias).
func NewSecret() string {
	const n = len(secretAlphabet)
	const limit = 256 - 256%n // bytes at or above it would favour the first characters
	var b strings.Builder
	buf := make([]byte, 64)
	for b.Len() < GeneratedSecretLen {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails on Linux (Go ≥ 1.24 panics instead)
		for _, c := range buf {
			if int(c) < limit && b.Len() < GeneratedSecretLen {
				b.WriteByte(secretAlphabet[int(c)%n])
			}
		}
	}
	return b.String()
}

// SecretBits estimates the strength of secret in bits, as an attacker who
// knows how people pick secrets would count it: each character is worth
// log2 of the size of the character classes the secret uses (lower case,
// upper case, digits, ASCII symbols, anything else), except characters that
// follow from what came before — a repeat of the previous character, the
// next or previous one in sequence (abc, 321), or the continuation of a run
// of three already seen (passwordpassword) — which are worth one bit. It
// cannot see dictionary words, so it overrates passphrases of common words;
// it catches what is short, repetitive or from a small alphabet.
func SecretBits(secret string) float64 {
	var lower, upper, digit, symbol, other bool
	for _, r := range secret {
		switch {
		case r >= 'a' && r <= 'z':
			lower = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= '0' && r <= '9':
			digit = true
		case r < utf8.RuneSelf:
			symbol = true
		default:
			other = true
		}
	}
	pool := 0
	for _, c := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {symbol, 33}, {other, 100}} {
		if c.used {
			pool += c.size
		}
	}
	if pool == 0 {
		return 0
	}
	perChar := math.Log2(float64(pool))
	rs := []rune(secret)
	bits := 0.0
	for i, r := range rs {
		predictable := false
		if i > 0 {
			d := r - rs[i-1]
			predictable = d >= -1 && d <= 1
		}
		if !predictable && i >= 2 {
			predictable = strings.Contains(string(rs[:i]), string(rs[i-2:i+1]))
		}
		if predictable {
			bits++
		} else {
			bits += perChar
		}
	}
	return bits
}
