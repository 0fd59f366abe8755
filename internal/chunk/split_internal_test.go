package chunk

import "testing"

func TestStringGuessesInRange(t *testing.T) {
	g := stringGuesses("00000df7", "fff82bad", 4)
	if len(g) != 3 {
		t.Fatalf("stringGuesses = %q; want 3 guesses", g)
	}
	for i := 1; i < len(g); i++ {
		if g[i-1] >= g[i] {
			t.Errorf("guesses not increasing: %q", g)
		}
	}
	if g := stringGuesses("b", "b", 4); g != nil {
		t.Errorf("stringGuesses(b, b) = %q; want none", g)
	}
	if g := stringGuesses("a00", "F99", 4); len(g) != 3 || g[0] >= g[1] {
		t.Errorf("stringGuesses(a00, F99) = %q; want 3 increasing guesses", g)
	}
	if g := numberGuesses("-9223372036854775808", "18446744073709551615", 4); len(g) != 3 || g[1] != "4611686018427387903" {
		t.Errorf("numberGuesses over the whole range = %q", g)
	}
	if g := numberGuesses("5", "6", 4); len(g) != 0 {
		t.Errorf("numberGuesses(5, 6) = %q; want none strictly inside", g)
	}
}
