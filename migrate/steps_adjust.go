package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/qualityunit/lamigrate/migrate/adjust"
)

// adjust applies the rules file and appends what it changed to
// adjust-record.json in the output folder (for lamigrate's undo). A second
// run changes nothing, so the step is safe to redo.
func (s *Session) adjust(ctx context.Context) (Output, error) {
	var out Output
	rules, err := s.rules()
	if err != nil {
		return out, err
	}
	db, err := s.DB(ctx)
	if err != nil {
		return out, err
	}
	rep, err := adjust.Apply(ctx, db, rules, adjust.Config{Params: s.Config.Adjust.Params})
	if err != nil {
		return out, err
	}
	path := s.Path("adjust-record.json")
	rec := rep.Record()
	if old, err := adjust.ReadRecord(path); err == nil {
		old.Append(rec)
		rec = old
	} else if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
		return out, err
	}
	if err := rec.Write(path); err != nil {
		return out, err
	}
	if fi, err := os.Stat(path); err == nil {
		out.AddFile(path, fi.Size(), "")
	}
	out.Count("rules", int64(len(rep.Rules)))
	out.Count("rows_changed", rep.Changed)
	return out, nil
}

// rules loads the configured rules file and checks that the configuration
// gives every parameter it declares (the adjust step and the dry run).
func (s *Session) rules() (*adjust.Rules, error) {
	rules, err := adjust.LoadRules(s.Config.Adjust.Rules)
	if err != nil {
		return nil, err
	}
	if missing := rules.Missing(s.Config.Adjust.Params); len(missing) > 0 {
		var kv []string
		for _, m := range missing {
			kv = append(kv, fmt.Sprintf("%q: \"VALUE\"", m))
		}
		return nil, fmt.Errorf("adjust: %v (rules %s): add to the configuration's adjust section: \"params\": {%s}",
			&adjust.MissingParamsError{Names: missing}, s.Config.Adjust.Rules, strings.Join(kv, ", "))
	}
	return rules, nil
}
