package verify

import (
	"strings"
	"testing"
)

func TestDiffErrorStaysOneReadableLine(t *testing.T) {
	e := &DiffError{Database: "db", Differences: []*MismatchError{
		{Table: "a", What: "rows", Want: "1", Got: "2"},
		{Table: "b", What: "rows", Want: "1", Got: "2"},
		{Table: "c", What: "rows", Want: "1", Got: "2"},
	}}
	msg := e.Error()
	if !strings.Contains(msg, "in 3 places") || !strings.Contains(msg, "and 2 more in `b`, `c`") || strings.Contains(msg, "\n") {
		t.Errorf("DiffError.Error() = %q; want the count, the first difference and the other tables named", msg)
	}
	if strings.Count(msg, "rows") > 1 {
		t.Errorf("DiffError.Error() = %q; want only the first difference spelled out", msg)
	}
}
