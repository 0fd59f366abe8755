package check

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/qualityunit/lamigrate/isolate"
)

// SourceFact is what check found for one profile source.
type SourceFact struct {
	Name       string `json:"name"`
	Table      string `json:"table"`
	Column     string `json:"column"`
	Confidence string `json:"confidence,omitempty"`
	Found      bool   `json:"found"`
	// Active is the number of active rows; -1 when not countable.
	Active  int64  `json:"active"`
	Problem string `json:"problem,omitempty"`
}

// LookAlikeTables are the LIKE patterns of tables that may hold external
// sources; a matching table the profile does not name is reported.
var LookAlikeTables = []string{"%facebook%", "%twitter%", "%mail_account%", "%widget%"}

var statusColumnRE = regexp.MustCompile(`(?i)^(r?status|state|enabled|disabled|active|is_active|is_enabled)$|_status$|^status_`)

// sources inspects every profile source and looks for tables that look
// like sources but are not in the profile.
func (c *checker) sources(ctx context.Context) error {
	var (
		p   *isolate.Profile
		err error
	)
	if c.cfg.ProfilePath != "" {
		if p, err = isolate.LoadProfile(c.cfg.ProfilePath); err != nil {
			return err
		}
	} else {
		p = isolate.DefaultProfile()
	}
	c.profile = p
	sts, err := p.Inspect(ctx, c.db)
	if err != nil {
		return err
	}
	inProfile := map[string]map[string]bool{}
	for i, st := range sts {
		src := p.Sources[i]
		if inProfile[strings.ToLower(src.Table)] == nil {
			inProfile[strings.ToLower(src.Table)] = map[string]bool{}
		}
		inProfile[strings.ToLower(src.Table)][strings.ToLower(src.Column)] = true
		fact := SourceFact{Name: st.Name, Table: st.Table, Column: src.Column, Confidence: st.Confidence,
			Found: st.TableExists && len(st.MissingColumns) == 0, Active: st.Active, Problem: st.Problem}
		c.rep.Facts.Sources = append(c.rep.Facts.Sources, fact)
		conf := ""
		if st.Confidence != "" {
			conf = " (profile entry: " + st.Confidence + ")"
		}
		switch {
		case st.ConditionError != "":
			c.add(Blocker, "source_condition", st.Name, "fix active_where in the profile (--profile FILE)",
				"source %q: the server rejects its condition: %s", st.Name, st.ConditionError)
		case !st.TableExists:
			c.add(Warning, "source_missing", st.Name, "if this installation has such a source elsewhere, correct the profile (--profile FILE); otherwise nothing to do",
				"source %q: table %s not found%s", st.Name, st.Table, conf)
		case st.Problem != "":
			hint := ""
			if len(st.MissingColumns) > 0 {
				sc, err := c.statusColumns(ctx, st.Table)
				if err != nil {
					return err
				}
				if len(sc) > 0 {
					hint = "; status-like column(s) there: " + strings.Join(sc, ", ")
				}
			}
			c.add(Warning, "source_missing", st.Name, "correct the profile's column for this source (--profile FILE): isolate skips it as it is",
				"source %q: %s%s%s", st.Name, st.Problem, hint, conf)
		case st.Active > 0:
			c.add(Info, "source", st.Name, "isolate deactivates them and restore brings them back",
				"source %q: %d active row(s) in %s", st.Name, st.Active, st.Table)
		default:
			c.add(Info, "source", st.Name, "", "source %q: found in %s, nothing active", st.Name, st.Table)
		}
	}
	return c.lookAlikes(ctx, inProfile)
}

// lookAlikes reports tables matching LookAlikeTables that the profile does
// not name, with their status-like columns, and status-like columns of
// profile tables other than the profile's switch.
func (c *checker) lookAlikes(ctx context.Context, inProfile map[string]map[string]bool) error {
	var like []string
	args := []any{c.dbName}
	for _, p := range LookAlikeTables {
		like = append(like, "TABLE_NAME LIKE ?")
		args = append(args, p)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND (`+strings.Join(like, " OR ")+`) ORDER BY TABLE_NAME, ORDINAL_POSITION`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var order []string
	cols := map[string][]string{}
	for rows.Next() {
		var t, col string
		if err := rows.Scan(&t, &col); err != nil {
			return err
		}
		if _, ok := cols[t]; !ok {
			order = append(order, t)
			cols[t] = []string{}
		}
		if statusColumnRE.MatchString(col) {
			cols[t] = append(cols[t], col)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Strings(order)
	for _, t := range order {
		if inProfile[strings.ToLower(t)] != nil || c.ignored[strings.ToLower(t)] {
			continue
		}
		if len(cols[t]) == 0 {
			c.add(Info, "source_lookalike", t, "",
				"table %s has a source-like name but no status-like column: probably not a switchable source", t)
			continue
		}
		what := "status-like column(s) " + strings.Join(cols[t], ", ")
		c.add(Warning, "source_lookalike", t,
			"check whether it brings data in; if so, add it to a profile (--profile FILE) so isolate deactivates it",
			"table %s looks like an external source but is not in the profile (%s)", t, what)
	}
	return nil
}

// statusColumns lists the status-like columns of table.
func (c *checker) statusColumns(ctx context.Context, table string) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION", c.dbName, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var col string
		if err := rows.Scan(&col); err != nil {
			return nil, err
		}
		if statusColumnRE.MatchString(col) {
			out = append(out, col)
		}
	}
	return out, rows.Err()
}

// describeSources is a one-line summary for the human report header.
func describeSources(ss []SourceFact) string {
	var found, active int64
	for _, s := range ss {
		if s.Found {
			found++
		}
		if s.Active > 0 {
			active += s.Active
		}
	}
	return fmt.Sprintf("%d of %d profile sources found, %d active row(s)", found, len(ss), active)
}
