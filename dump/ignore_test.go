package dump

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestIgnoreList(t *testing.T) {
	defaults := DefaultIgnores()
	without := func(names ...string) []string {
		return slices.DeleteFunc(DefaultIgnores(), func(n string) bool { return slices.Contains(names, n) })
	}
	for _, tt := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"defaults", Config{}, defaults},
		{"extra table", Config{IgnoreTables: []string{"t1", "qu_g_logs"}}, append(DefaultIgnores(), "t1")},
		{"no defaults", Config{NoDefaultIgnores: true, IgnoreTables: []string{"t1"}}, []string{"t1"}},
		{"keep one", Config{KeepTables: []string{"qu_g_logs"}}, without("qu_g_logs")},
		{"keep two, one unknown", Config{KeepTables: []string{"qu_la_page_visits", "nope", "qu_g_sessions"}}, without("qu_la_page_visits", "qu_g_sessions")},
		{"keep wins over ignore", Config{KeepTables: []string{"t1"}, IgnoreTables: []string{"t1", "t2"}}, append(DefaultIgnores(), "t2")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.IgnoreList(), "IgnoreList()")
		})
	}
	assert.Len(t, defaults, 20)
}
