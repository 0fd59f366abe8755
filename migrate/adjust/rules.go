package adjust

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/sqlvalue"
	"github.com/qualityunit/lamigrate/internal/strictjson"
)

// Rules is a reviewed rules file for adjust: the value changes the cloud
// copy of an installation needs, applied after import. It is JSON with
// three keys:
//
//   - "description": free text, for the reviewer.
//   - "params": the names of the parameters the rules use. Each needs a
//     value when adjust runs: lamigrate adjust --param NAME=VALUE, or
//     "params": {"NAME": "VALUE"} in run's adjust configuration. A rule
//     refers to one as ${NAME}; using one not listed here is an error.
//   - "rules": the rules, applied in order in one transaction. Each has a
//     unique "name" and is either a set rule or an SQL rule.
//
// A set rule ("table", "set", "where") writes set's values into the rows
// of table that where selects: equality on every listed column, null
// meaning IS NULL; "all_rows": true instead of where changes every row.
// Values are JSON strings, numbers, booleans (stored as 1 and 0), null or
// {"base64": "..."} for bytes that are not UTF-8, and may contain ${NAME}
// parameters, which are data, never SQL. Rows already at the target are
// skipped and every changed row is recorded (key, value before, value
// after), so the rule can be run again and undone (lamigrate adjust
// --record FILE, then --undo FILE). The table needs a primary key or a
// unique key of NOT NULL columns.
//
// An SQL rule ("sql") is one UPDATE, INSERT, DELETE or REPLACE statement
// run as written. A ${NAME} parameter in it becomes a quoted SQL string
// literal: write it bare (${domain}, not '${domain}'); parameters inside
// quotes or comments are refused. It must be idempotent by itself (UPDATE
// ... WHERE col <> 'x'), as adjust records only how many rows it affected
// and cannot undo it.
//
// The rules may only name tables the dump carries: the tables of the
// dump's ignore list (dump.DefaultIgnores: sessions, logs, queues, visits,
// ...) are not in the cloud copy. This example is examples/adjust-rules.json
// (a test applies it to a generated installation), run with
// lamigrate adjust --dsn DSN --rules examples/adjust-rules.json --param
// domain=help.example.com --record adjust-record.json:
//
//	{
//	  "description": "The cloud copy answers at its own domain (settings and the built-in mailbox); the source's last cron run means nothing there.",
//	  "params": ["domain"],
//	  "rules": [
//	    {"name": "server name", "table": "qu_g_settings",
//	     "set": {"value": "${domain}"}, "where": {"name": "server_name"}},
//	    {"name": "base url", "table": "qu_g_settings",
//	     "set": {"value": "https://${domain}/"}, "where": {"name": "base_url"}},
//	    {"name": "last cron run", "table": "qu_g_settings",
//	     "set": {"value": ""}, "where": {"name": "last_cron_run"}},
//	    {"name": "built-in mailbox", "sql": "UPDATE qu_la_mail_accounts SET email = CONCAT(SUBSTRING_INDEX(email, '@', 1), '@', ${domain}) WHERE fetch_type = 'B' AND email <> CONCAT(SUBSTRING_INDEX(email, '@', 1), '@', ${domain})"}
//	  ]
//	}
type Rules struct {
	Description string `json:"description,omitempty"`
	// Params declares the parameters the rules use; each must be given a
	// value when adjust runs.
	Params []string `json:"params,omitempty"`
	Rules  []Rule   `json:"rules"`
}

// Rule is one set rule (Table, Set, Where) or one SQL rule (SQL).
type Rule struct {
	Name  string          `json:"name"`
	SQL   string          `json:"sql,omitempty"`
	Table string          `json:"table,omitempty"`
	Set   map[string]Cell `json:"set,omitempty"`
	Where map[string]Cell `json:"where,omitempty"`
	// AllRows must be true for a set rule without Where: it changes every
	// row of the table.
	AllRows bool `json:"all_rows,omitempty"`
}

// Cell is a column value: NULL (Valid false) or Bytes. In JSON it is
// null, a string, a number or boolean (as text: true is "1"), or
// {"base64": "..."} for bytes that are not UTF-8; see internal/sqlvalue,
// which isolate's state file shares.
type Cell = sqlvalue.Value

// Text returns a non-NULL cell.
func Text(s string) Cell { return sqlvalue.Text(s) }

// RulesError names the rule and field of a rules file that is wrong.
type RulesError struct {
	Rule   string // rule name or "rules[i]"; "" for the file itself
	Field  string
	Reason string
}

func (e *RulesError) Error() string {
	if e.Rule == "" {
		return fmt.Sprintf("migrate: rules: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("migrate: rules: rule %q: %s: %s", e.Rule, e.Field, e.Reason)
}

// LoadRules reads and validates a rules file.
func LoadRules(path string) (*Rules, error) {
	return strictjson.ReadFile(path, "migrate: rules", ParseRules)
}

// ParseRules decodes and validates rules. Unknown fields are errors.
func ParseRules(b []byte) (*Rules, error) {
	var r Rules
	if err := strictjson.Unmarshal(b, &r, "rules"); err != nil {
		return nil, fmt.Errorf("migrate: rules are not valid JSON: %w", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	// Empty lists and maps mean the same as absent ones.
	if len(r.Params) == 0 {
		r.Params = nil
	}
	for i := range r.Rules {
		if len(r.Rules[i].Set) == 0 {
			r.Rules[i].Set = nil
		}
		if len(r.Rules[i].Where) == 0 {
			r.Rules[i].Where = nil
		}
	}
	return &r, nil
}

var paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var paramRefRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// Validate checks the rules without a database.
func (r *Rules) Validate() error {
	if r == nil || len(r.Rules) == 0 {
		return &RulesError{Field: "rules", Reason: "no rules listed"}
	}
	declared := map[string]bool{}
	for i, p := range r.Params {
		if !paramNameRE.MatchString(p) {
			return &RulesError{Field: fmt.Sprintf("params[%d]", i), Reason: fmt.Sprintf("%q is not a name (letters, digits, _)", p)}
		}
		if declared[p] {
			return &RulesError{Field: fmt.Sprintf("params[%d]", i), Reason: fmt.Sprintf("%q declared twice", p)}
		}
		declared[p] = true
	}
	checkRefs := func(rule, field, s string) error {
		for _, m := range paramRefRE.FindAllStringSubmatch(s, -1) {
			if !declared[m[1]] {
				return &RulesError{Rule: rule, Field: field, Reason: fmt.Sprintf("parameter ${%s} is not declared in params", m[1])}
			}
		}
		if strings.Count(s, "${") != len(paramRefRE.FindAllStringIndex(s, -1)) {
			return &RulesError{Rule: rule, Field: field, Reason: "unclosed ${ (write ${name})"}
		}
		return nil
	}
	names := map[string]bool{}
	for i, ru := range r.Rules {
		name := ru.Name
		if strings.TrimSpace(name) == "" || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n") {
			return &RulesError{Field: fmt.Sprintf("rules[%d].name", i), Reason: "must be one non-empty line of text"}
		}
		if names[name] {
			return &RulesError{Rule: name, Field: "name", Reason: "listed twice"}
		}
		names[name] = true
		isSQL := ru.SQL != ""
		isSet := ru.Table != "" || len(ru.Set) > 0 || len(ru.Where) > 0 || ru.AllRows
		switch {
		case isSQL && isSet:
			return &RulesError{Rule: name, Field: "sql", Reason: "a rule is either sql or table/set/where, not both"}
		case isSQL:
			if err := checkRuleSQL(ru.SQL); err != nil {
				return &RulesError{Rule: name, Field: "sql", Reason: err.Error()}
			}
			if err := checkRefs(name, "sql", ru.SQL); err != nil {
				return err
			}
		default:
			if err := checkIdentName(ru.Table); err != nil {
				return &RulesError{Rule: name, Field: "table", Reason: err.Error()}
			}
			if len(ru.Set) == 0 {
				return &RulesError{Rule: name, Field: "set", Reason: "no columns to set"}
			}
			if len(ru.Where) == 0 && !ru.AllRows {
				return &RulesError{Rule: name, Field: "where", Reason: `empty: name the rows, or say "all_rows": true to change every row`}
			}
			for _, part := range []struct {
				field string
				m     map[string]Cell
			}{{"set", ru.Set}, {"where", ru.Where}} {
				for col, v := range part.m {
					if err := checkIdentName(col); err != nil {
						return &RulesError{Rule: name, Field: part.field, Reason: err.Error()}
					}
					if v.Valid {
						if err := checkRefs(name, part.field+"."+col, string(v.Bytes)); err != nil {
							return err
						}
					}
				}
			}
			for col := range ru.Set {
				if _, ok := ru.Where[col]; ok {
					return &RulesError{Rule: name, Field: "set", Reason: fmt.Sprintf("column %q is both set and matched in where", col)}
				}
			}
		}
	}
	return nil
}

func checkIdentName(s string) error {
	switch {
	case s == "":
		return errors.New("empty name")
	case !utf8.ValidString(s):
		return fmt.Errorf("name %q is not valid UTF-8", s)
	case utf8.RuneCountInString(s) > 64:
		return fmt.Errorf("name %q is longer than 64 characters", s)
	case strings.ContainsRune(s, 0):
		return errors.New("name contains NUL")
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("name %q has leading or trailing spaces", s)
	}
	return nil
}

// checkRuleSQL accepts one DML statement.
func checkRuleSQL(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if _, err := expandSQL(s, func(string) (string, error) { return "''", nil }); err != nil {
		return err
	}
	kw := strings.ToUpper(firstWord(s))
	switch kw {
	case "UPDATE", "INSERT", "DELETE", "REPLACE":
		return nil
	}
	return fmt.Errorf("must be an UPDATE, INSERT, DELETE or REPLACE statement, not %q (statements like DDL would commit the transaction and escape --dry-run)", kw)
}

// firstWord skips whitespace and comments and returns the first word.
func firstWord(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		switch {
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[i+4:]
		case strings.HasPrefix(s, "#"), strings.HasPrefix(s, "-- "), strings.HasPrefix(s, "--\t"), strings.HasPrefix(s, "--\n"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		default:
			end := strings.IndexFunc(s, func(r rune) bool {
				return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			})
			if end < 0 {
				return s
			}
			return s[:end]
		}
	}
}

// expandSQL walks one SQL statement, replacing each ${name} outside
// quotes and comments with repl(name). It refuses ${ inside quotes or
// comments, unterminated quotes and comments, and a ';' other than a
// trailing one (which it drops).
func expandSQL(s string, repl func(name string) (string, error)) (string, error) {
	var b strings.Builder
	n := len(s)
	for i := 0; i < n; {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			closed := false
			for j < n {
				if s[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < n && s[j+1] == c {
						j += 2
						continue
					}
					closed = true
					break
				}
				j++
			}
			if !closed {
				return "", fmt.Errorf("unclosed %c quote at offset %d", c, i)
			}
			if strings.Contains(s[i:j+1], "${") {
				return "", fmt.Errorf("parameter inside a quoted string or name at offset %d: write ${name} bare, adjust quotes the value", i)
			}
			b.WriteString(s[i : j+1])
			i = j + 1
		case c == '#' || c == '-' && strings.HasPrefix(s[i:], "--") && (i+2 == n || s[i+2] <= ' '):
			j := strings.IndexByte(s[i:], '\n')
			end := n
			if j >= 0 {
				end = i + j
			}
			if strings.Contains(s[i:end], "${") {
				return "", fmt.Errorf("parameter inside a comment at offset %d", i)
			}
			b.WriteString(s[i:end])
			i = end
		case c == '/' && i+1 < n && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return "", fmt.Errorf("unclosed /* comment at offset %d", i)
			}
			end := i + 2 + j + 2
			if strings.Contains(s[i:end], "${") {
				return "", fmt.Errorf("parameter inside a comment at offset %d", i)
			}
			b.WriteString(s[i:end])
			i = end
		case c == '$' && i+1 < n && s[i+1] == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return "", fmt.Errorf("unclosed ${ at offset %d", i)
			}
			name := s[i+2 : i+j]
			if !paramNameRE.MatchString(name) {
				return "", fmt.Errorf("bad parameter name %q at offset %d", name, i)
			}
			v, err := repl(name)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += j + 1
		case c == ';':
			if strings.TrimSpace(s[i+1:]) != "" {
				return "", fmt.Errorf("';' at offset %d: one statement per rule", i)
			}
			i = n
		default:
			b.WriteByte(c)
			i++
		}
	}
	out := strings.TrimSpace(b.String())
	if out == "" {
		return "", errors.New("empty statement")
	}
	return out, nil
}

// Bind returns the rule with its parameters replaced: in SQL as quoted
// string literals, in set and where values as plain text.
func (ru Rule) Bind(params map[string]string) (Rule, error) {
	get := func(name string) (string, error) {
		v, ok := params[name]
		if !ok {
			return "", fmt.Errorf("migrate: rule %q: %w", ru.Name, &MissingParamsError{Names: []string{name}})
		}
		return v, nil
	}
	var firstErr error
	sub := func(s string) string {
		return paramRefRE.ReplaceAllStringFunc(s, func(m string) string {
			v, err := get(m[2 : len(m)-1])
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return v
		})
	}
	out := ru
	if ru.SQL != "" {
		s, err := expandSQL(ru.SQL, func(name string) (string, error) {
			v, err := get(name)
			return ident.String(v), err
		})
		if err != nil {
			return Rule{}, fmt.Errorf("migrate: rule %q: %w", ru.Name, err)
		}
		out.SQL = s
		return out, nil
	}
	out.Set, out.Where = map[string]Cell{}, map[string]Cell{}
	for k, v := range ru.Set {
		if v.Valid {
			v = Text(sub(string(v.Bytes)))
		}
		out.Set[k] = v
	}
	for k, v := range ru.Where {
		if v.Valid {
			v = Text(sub(string(v.Bytes)))
		}
		out.Where[k] = v
	}
	if firstErr != nil {
		return Rule{}, firstErr
	}
	return out, nil
}

func sortedKeys(m map[string]Cell) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
