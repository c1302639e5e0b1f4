package node

import (
	"strings"
	"testing"
)

func TestSecretBits(t *testing.T) {
	for _, tc := range []struct {
		secret string
		strong bool
	}{
		{"", false},
		{"ab", false},
		{"s3cret", false},
		{"Password123!", false},
		{strings.Repeat("a", 64), false},
		{"abcdefghijklmnopqrstuvwxyz0123456789", false},
		{"P@ssw0rd-P@ssw0rd-P@ssw0rd-P@ssw0rd", false},
		{"jvbjvbjvbjvbjvbjvbjvbjvbjvbjvbjvbjvb", false},
		{"0123456789012345678901234567890123456789", false},
		{"k3P9xQ2mW7vR4tY8", false},                // 16 random alphanumerics: 95 bits, just under
		{"9f86d081884c7d659a2feaa0c55ad015", true}, // openssl rand -hex 16
		{"q5yK0bXw2Z0rJ8vN1mC4Ld7e", true},         // openssl rand -base64 18 (tr -d '/+=')
		{"the-jvb-secret-4711-xyz", true},          // passphrase-like: overrated, the estimate sees no words
		{`Cli$ecret "x" #1`, true},
	} {
		bits := SecretBits(tc.secret)
		if strong := bits >= MinSecretBits; strong != tc.strong {
			t.Errorf("SecretBits(%q) = %.0f: strong %v, want %v", tc.secret, bits, strong, tc.strong)
		}
	}
}

func TestNewSecretIsStrongAndPlain(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		s := NewSecret()
		if len(s) != GeneratedSecretLen || seen[s] {
			t.Fatalf("secret %q: length %d or repeated", s, len(s))
		}
		seen[s] = true
		if bits := SecretBits(s); bits < 128 {
			t.Errorf("generated %q estimated at %.0f bits, want ≥ 128", s, bits)
		}
		for _, r := range s {
			if !strings.ContainsRune(secretAlphabet, r) {
				t.Fatalf("generated %q has %q", s, r)
			}
			counts[r]++
		}
		if err := (Spec{Role: RoleJVB, JMSFQDN: "meet.example.org", Secret: s, Nickname: "jvb-001"}).Validate(); err != nil {
			t.Fatalf("generated secret refused by Validate: %v", err)
		}
	}
	// Every character shows up, none far more than the others (64 000
	// characters over 62: about 1032 each).
	if len(counts) != len(secretAlphabet) {
		t.Errorf("%d distinct characters, want %d", len(counts), len(secretAlphabet))
	}
	for r, n := range counts {
		if n < 800 || n > 1300 {
			t.Errorf("character %q drawn %d times, want about 1032", r, n)
		}
	}
}
