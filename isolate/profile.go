package isolate

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/strictjson"
)

// Confidence says how sure the profile is about a source (see LIVEAGENT.md).
const (
	Confirmed = "confirmed" // seen directly
	Inferred  = "inferred"  // reasoned from related evidence
	Guess     = "guess"     // unknown: a guess a person should check
)

// DefaultDrainQuery counts the background jobs that are not finished.
const DefaultDrainQuery = "SELECT COUNT(*) FROM qu_g_queued_jobs WHERE status != 'F'"

// Profile says which external sources an installation has, which of their
// rows are active, and what deactivation writes. It is plain JSON so a user
// can override the built-in one with --profile FILE.
type Profile struct {
	Sources []Source `json:"sources"`
	// CronPatterns are script names whose cron lines are commented out
	// (matched as a file name inside the line: "jobs.php" matches
	// ".../scripts/jobs.php" but not "cronjobs.php"). Default: jobs.php,
	// queue.php.
	CronPatterns []string `json:"cron_patterns,omitempty"`
	// DrainQuery returns one number: the background jobs still pending.
	// Default: DefaultDrainQuery.
	DrainQuery string `json:"drain_query,omitempty"`
}

// Source is one kind of external source: the rows of Table whose
// ActiveWhere holds get Column set to Write, keyed by Key.
type Source struct {
	// Name identifies the source in reports and in the state file; unique.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Table       string `json:"table"`
	// Key is a column that identifies one row (the primary key).
	Key string `json:"key"`
	// Column is the switch isolation changes.
	Column string `json:"column"`
	// ActiveWhere is an SQL condition on Table selecting the active rows.
	// It is trusted configuration, checked for typos (Validate, Inspect).
	ActiveWhere string `json:"active_where"`
	// Write is the value deactivation stores in Column (a string, bound as
	// a parameter, never spliced into SQL).
	Write string `json:"write"`
	// File, relative to the installation folder, is moved aside while the
	// source is isolated (with an install dir only), e.g. the mail pipe.
	File string `json:"file,omitempty"`
	// Confidence is Confirmed, Inferred or Guess.
	Confidence string `json:"confidence,omitempty"`
	// Note says what is known and what is guessed.
	Note string `json:"note,omitempty"`
}

//go:embed default_profile.json
var defaultProfileJSON []byte

// DefaultProfile returns a fresh copy of the built-in LiveAgent profile.
func DefaultProfile() *Profile {
	p, err := ParseProfile(defaultProfileJSON)
	if err != nil {
		panic("isolate: built-in profile: " + err.Error())
	}
	return p
}

// LoadProfile reads and validates a profile file.
func LoadProfile(path string) (*Profile, error) {
	return strictjson.ReadFile(path, "isolate: profile", ParseProfile)
}

// ParseProfile decodes and validates a profile. Unknown fields are errors,
// so a misspelled field name is not silently ignored.
func ParseProfile(b []byte) (*Profile, error) {
	var p Profile
	if err := strictjson.Unmarshal(b, &p, "profile"); err != nil {
		return nil, fmt.Errorf("isolate: profile is not valid JSON: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Patterns returns CronPatterns or the default.
func (p *Profile) Patterns() []string {
	if len(p.CronPatterns) > 0 {
		return p.CronPatterns
	}
	return []string{"jobs.php", "queue.php"}
}

// Drain returns DrainQuery or the default.
func (p *Profile) Drain() string {
	if p.DrainQuery != "" {
		return p.DrainQuery
	}
	return DefaultDrainQuery
}

// Source returns the source named name, or nil.
func (p *Profile) Source(name string) *Source {
	for i := range p.Sources {
		if p.Sources[i].Name == name {
			return &p.Sources[i]
		}
	}
	return nil
}

// ProfileError names the source and field of a profile that is wrong.
type ProfileError struct {
	Source string // "" for the profile itself
	Field  string // JSON field name
	Reason string
}

func (e *ProfileError) Error() string {
	if e.Source == "" {
		return fmt.Sprintf("isolate: profile: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("isolate: profile: source %q: %s: %s", e.Source, e.Field, e.Reason)
}

// Validate checks the profile without a database: every field present,
// identifiers that MySQL can name, conditions that are one well-formed
// expression (balanced quotes and parentheses, no statement separators or
// comments), unique names.
func (p *Profile) Validate() error {
	if p == nil {
		return &ProfileError{Field: "sources", Reason: "no profile"}
	}
	if len(p.Sources) == 0 {
		return &ProfileError{Field: "sources", Reason: "no sources listed"}
	}
	seen := map[string]bool{}
	for i, s := range p.Sources {
		name := s.Name
		if strings.TrimSpace(name) == "" {
			return &ProfileError{Field: fmt.Sprintf("sources[%d].name", i), Reason: "empty"}
		}
		if !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\n\r") {
			return &ProfileError{Field: fmt.Sprintf("sources[%d].name", i), Reason: "must be one line of text"}
		}
		if seen[name] {
			return &ProfileError{Source: name, Field: "name", Reason: "listed twice"}
		}
		seen[name] = true
		for _, f := range []struct{ field, v string }{{"table", s.Table}, {"key", s.Key}, {"column", s.Column}} {
			if err := checkIdent(f.v); err != nil {
				return &ProfileError{Source: name, Field: f.field, Reason: err.Error()}
			}
		}
		if strings.EqualFold(s.Key, s.Column) {
			return &ProfileError{Source: name, Field: "column", Reason: "is the key column; isolation must not change keys"}
		}
		if err := checkCondition(s.ActiveWhere); err != nil {
			return &ProfileError{Source: name, Field: "active_where", Reason: err.Error()}
		}
		if strings.ContainsRune(s.Write, 0) || !utf8.ValidString(s.Write) {
			return &ProfileError{Source: name, Field: "write", Reason: "must be valid UTF-8 text without NUL"}
		}
		switch s.Confidence {
		case "", Confirmed, Inferred, Guess:
		default:
			return &ProfileError{Source: name, Field: "confidence", Reason: fmt.Sprintf("%q is not one of confirmed, inferred, guess", s.Confidence)}
		}
		if s.File != "" {
			if err := checkRelPath(s.File); err != nil {
				return &ProfileError{Source: name, Field: "file", Reason: err.Error()}
			}
		}
	}
	for i, c := range p.CronPatterns {
		if strings.TrimSpace(c) != c || c == "" || strings.ContainsAny(c, "\x00\n\r\t ") {
			return &ProfileError{Field: fmt.Sprintf("cron_patterns[%d]", i), Reason: "must be a script name without spaces, e.g. jobs.php"}
		}
	}
	if p.DrainQuery != "" {
		if err := checkCondition(p.DrainQuery); err != nil {
			return &ProfileError{Field: "drain_query", Reason: err.Error()}
		}
	}
	return nil
}

// checkIdent accepts what MySQL accepts as a quoted table or column name.
func checkIdent(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case !utf8.ValidString(s):
		return errors.New("not valid UTF-8")
	case utf8.RuneCountInString(s) > 64:
		return fmt.Errorf("%q is longer than 64 characters", s)
	case strings.ContainsAny(s, "\x00"):
		return errors.New("contains NUL")
	case strings.TrimRight(s, " ") != s:
		return fmt.Errorf("%q ends with a space", s)
	case strings.TrimSpace(s) != s || strings.ContainsAny(s, "\n\r\t"):
		return fmt.Errorf("%q has stray whitespace", s)
	}
	return nil
}

func checkRelPath(s string) error {
	if strings.HasPrefix(s, "/") || strings.ContainsRune(s, 0) {
		return fmt.Errorf("%q must be a path relative to the installation folder", s)
	}
	for _, part := range strings.Split(s, "/") {
		if part == ".." || part == "" || part == "." {
			return fmt.Errorf("%q must be a plain relative path inside the installation folder", s)
		}
	}
	return nil
}

// checkCondition catches the typos that would turn a condition into broken
// or different SQL: unbalanced quotes or parentheses, statement separators,
// comments that would swallow the rest of the statement.
func checkCondition(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty")
	}
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 0:
			return errors.New("contains NUL")
		case '\'', '"', '`':
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c { // doubled quote
						j += 2
						continue
					}
					closed = true
					break
				}
				j++
			}
			if !closed {
				return fmt.Errorf("unclosed %c quote at offset %d in %q", c, i, s)
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("unbalanced ')' at offset %d in %q", i, s)
			}
		case ';':
			return fmt.Errorf("';' at offset %d: must be a single condition, not statements, in %q", i, s)
		case '#':
			return fmt.Errorf("'#' comment at offset %d in %q", i, s)
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				return fmt.Errorf("'--' comment at offset %d in %q", i, s)
			}
		case '/':
			if i+1 < len(s) && s[i+1] == '*' {
				return fmt.Errorf("'/*' comment at offset %d in %q", i, s)
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d unclosed '(' in %q", depth, s)
	}
	return nil
}

// SourceStatus is what Inspect found for one source.
type SourceStatus struct {
	Name        string `json:"name"`
	Table       string `json:"table"`
	Confidence  string `json:"confidence,omitempty"`
	TableExists bool   `json:"table_exists"`
	// MissingColumns lists Key and Column when the table lacks them.
	MissingColumns []string `json:"missing_columns,omitempty"`
	// Active is the number of rows ActiveWhere selects now; -1 when it
	// could not be counted (table or column missing, condition wrong).
	Active int64 `json:"active"`
	// Problem explains why the source cannot be isolated as written (a
	// missing table or column, or the server's complaint about
	// active_where); "" when it can.
	Problem string `json:"problem,omitempty"`
	// ConditionError is set for a mistake in the profile that the server
	// revealed: active_where rejected for another reason than an unknown
	// column (a typo in the SQL), or a key that is not unique. Isolate
	// refuses to run rather than skip such a source.
	ConditionError string `json:"condition_error,omitempty"`
}

// Usable reports whether the source can be isolated.
func (s SourceStatus) Usable() bool { return s.Problem == "" }

// Inspect checks every source against the database db is connected to:
// does its table exist, does it have the key and switch columns, does the
// condition run, and how many rows are active now. Missing tables and
// columns and rejected conditions are reported in the result, never as an
// error; the error is for the connection failing or ctx ending.
func (p *Profile) Inspect(ctx context.Context, db *sql.DB) ([]SourceStatus, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out []SourceStatus
	for _, s := range p.Sources {
		st, err := inspectSource(ctx, db, s)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func inspectSource(ctx context.Context, db *sql.DB, s Source) (SourceStatus, error) {
	st := SourceStatus{Name: s.Name, Table: s.Table, Confidence: s.Confidence, Active: -1}
	cols, found, err := tableColumns(ctx, db, s.Table)
	if err != nil {
		return st, err
	}
	if !found {
		st.Problem = fmt.Sprintf("table %s does not exist", s.Table)
		return st, nil
	}
	st.TableExists = true
	for _, c := range []string{s.Key, s.Column} {
		if !cols[strings.ToLower(c)] {
			st.MissingColumns = append(st.MissingColumns, c)
		}
	}
	if len(st.MissingColumns) > 0 {
		st.Problem = fmt.Sprintf("table %s has no column %s", s.Table, strings.Join(st.MissingColumns, ", "))
		return st, nil
	}
	unique, err := uniqueKey(ctx, db, s.Table, s.Key)
	if err != nil {
		return st, err
	}
	if !unique {
		st.Problem = fmt.Sprintf("key %s is not a unique single-column key (primary key or unique index) of %s", s.Key, s.Table)
		st.ConditionError = st.Problem
		return st, nil
	}
	n, err := countActive(ctx, db, s)
	if err != nil {
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			st.Problem = fmt.Sprintf("active_where %q: %s", s.ActiveWhere, me.Message)
			if me.Number != erBadField {
				st.ConditionError = st.Problem
			}
			return st, nil
		}
		return st, fmt.Errorf("isolate: source %q: counting active rows: %w", s.Name, err)
	}
	st.Active = n
	return st, nil
}

const (
	erBadField    = 1054 // unknown column
	erNoSuchTable = 1146
)

// tableColumns returns the lower-cased column names of table in the current
// database, and whether the table exists.
func tableColumns(ctx context.Context, q querier, table string) (map[string]bool, bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, table)
	if err != nil {
		return nil, false, fmt.Errorf("isolate: reading columns of %s: %w", table, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, false, fmt.Errorf("isolate: reading columns of %s: %w", table, err)
		}
		cols[strings.ToLower(c)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("isolate: reading columns of %s: %w", table, err)
	}
	return cols, len(cols) > 0, nil
}

// uniqueKey reports whether column alone is the primary key or a unique
// index of table.
func uniqueKey(ctx context.Context, q querier, table, column string) (bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT INDEX_NAME, GROUP_CONCAT(COLUMN_NAME) FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0
		GROUP BY INDEX_NAME HAVING COUNT(*) = 1`, table)
	if err != nil {
		return false, fmt.Errorf("isolate: reading indexes of %s: %w", table, err)
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var idx, col string
		if err := rows.Scan(&idx, &col); err != nil {
			return false, fmt.Errorf("isolate: reading indexes of %s: %w", table, err)
		}
		found = found || strings.EqualFold(col, column)
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("isolate: reading indexes of %s: %w", table, err)
	}
	return found, nil
}

// countActive counts the active rows inside a read-only transaction that is
// rolled back, so even a surprising condition changes nothing.
func countActive(ctx context.Context, db *sql.DB, s Source) (int64, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int64
	err = tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+ident.Quote(s.Table)+" WHERE ("+s.ActiveWhere+")").Scan(&n)
	return n, err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}
