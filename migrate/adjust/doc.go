// Package adjust applies the reviewed, cloud-specific value changes to the
// imported copy of a LiveAgent database, records what it changed, and
// takes those changes back.
//
// # Order
//
//  1. LoadRules or ParseRules reads a rules file (the format is described
//     on Rules; examples/adjust-rules.json is one). A file that is not
//     valid JSON or has unknown keys is refused; so is, as a *RulesError
//     naming the rule and the field, a rules file that breaks the format:
//     a name listed twice, an undeclared ${NAME} parameter, an SQL rule
//     that is not one UPDATE, INSERT, DELETE or REPLACE, a set rule
//     without where or "all_rows".
//  2. Apply checks that Config.Params gives every declared parameter a
//     value (a *MissingParamsError names those that have none; the callers
//     say where to give them) and binds them: a parameter is data in a set
//     rule and a quoted string literal in an SQL rule, never SQL.
//  3. Apply then opens one transaction and runs the rules in order. A set
//     rule reads the rows its where selects, by key (the primary key, or a
//     unique key of NOT NULL columns), skips the rows already at their
//     target, and writes and records the others (key, values before and
//     after). An SQL rule runs as written and only its count of affected
//     rows is kept.
//  4. Any error rolls the whole transaction back: nothing was changed. With
//     Config.DryRun the transaction is rolled back after the Report is made;
//     otherwise it commits.
//  5. Report.Record turns what was changed into a Record; Record.Write
//     keeps it in a file (atomically, mode 0600), ReadRecord reads it back
//     (refusing a damaged record, or one of another RecordFormat),
//     Record.Append adds a later run's changes.
//  6. Undo puts back the before values of a Record's changes, newest first,
//     in one transaction, only where a row still holds exactly what adjust
//     wrote. Other rows are UndoConflicts, reported and left as they are;
//     the SQL rules the record holds are listed as not undoable. A Record
//     of another database is refused.
//
// # Resuming
//
// Set rules are idempotent: a second Apply of the same rules changes
// nothing and records nothing. An SQL rule must be idempotent by itself
// (UPDATE … WHERE col <> 'x'). So `lamigrate run` redoes its adjust step
// safely, and appends each run's record to adjust-record.json in its
// output folder.
package adjust
