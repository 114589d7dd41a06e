package main

import (
	"bufio"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestFoldAccents(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Été à Montréal", "Ete a Montreal"},
		{"garçon, hôtel, où, naïf, ÇA", "garcon, hotel, ou, naif, CA"},
		{"Œuvre, cœur, straße, Łódź", "OEuvre, coeur, strasse, Lodz"},
		{"plain ASCII", "plain ASCII"},
		{"日本", "日本"},
		{"Montre\u0301al, Pa\u200bris", "Montreal, Paris"},
		{"Ǿ Ǎ ạ", "O A a"},
	}
	for _, tt := range tests {
		if got := foldAccents(tt.in); got != tt.want {
			t.Errorf("foldAccents(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Every letter of Latin-1 Supplement and Latin Extended-A folds to ASCII.
	for r := rune(0xC0); r <= 0x17F; r++ {
		if !unicode.IsLetter(r) {
			continue
		}
		if got := foldAccents(string(r)); !isASCII(got) {
			t.Errorf("foldAccents(%q) = %q, not ASCII", r, got)
		}
	}
}

func TestLooseKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Saint-Étienne", "saint etienne"},
		{"  Entry_level  ", "entry level"},
		{"Montre\u0301al", "montreal"},
		{"Pa\u200bris", "paris"},
		{"L’Haÿ-les-Roses", "l'hay les roses"},
		{"l‘argent, lʼargent, l`argent, l´argent", "l'argent, l'argent, l'argent, l'argent"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := looseKey(tt.in); got != tt.want {
			t.Errorf("looseKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 5, "short"},
		{"longer", 5, "longe…"},
		{"café!", 4, "caf…"},  // é is two bytes: cut before it
		{"café!", 5, "café…"}, // cut right after it
		{"日本語", 4, "日…"},
		{"日本語", 2, "…"},
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestListLines(t *testing.T) {
	var got []string
	err := listLines(strings.NewReader("# comment\n\n  first line \r\n\t# indented comment\nsecond\n"), "test list", func(line string) error {
		got = append(got, line)
		return nil
	})
	if want := []string{"first line", "second"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("listLines read %q, %v; want %q", got, err, want)
	}
	err = listLines(strings.NewReader("ok\n# c\nbad\n"), "test list", func(line string) error {
		if line == "bad" {
			return errors.New("bad line")
		}
		return nil
	})
	if err == nil || err.Error() != "line 3: bad line" {
		t.Errorf("listLines error = %v, want line 3: bad line", err)
	}
	err = listLines(strings.NewReader(strings.Repeat("x", bufio.MaxScanTokenSize+1)), "test list", func(string) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "read test list: ") {
		t.Errorf("listLines error on an over-long line = %v, want one naming the list", err)
	}
}
