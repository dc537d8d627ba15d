package termtext

import "testing"

func TestEscape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"relu", "relu"},
		{`a\b`, `a\b`},
		{"\x1b[2Jkey", `\x1b[2Jkey`},
		{"a\nb\\", `a\x0ab\\`},
		{"\u202eevil", `\u202eevil`},
		{"\xffx", `\xffx`},
		{"naïve", "naïve"},
		{"\u009b31m", `\x9b31m`},
	} {
		if got := Escape(c.in); got != c.want {
			t.Errorf("Escape(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzEscape(f *testing.F) {
	f.Add("\x1b]0;title\x07")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Escape(s) {
			if bad(r) {
				t.Fatalf("Escape(%q) keeps control rune %U", s, r)
			}
		}
	})
}
