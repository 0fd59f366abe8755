package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/qualityunit/lamigrate/internal/bytesize"
	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/verify"
)

type verifyCmd struct {
	File string `arg:"" help:"Archive to check (.sql.gz, .sql.zst, .sql.lz4, .sql, optionally .age; passphrase from LAMIGRATE_PASSPHRASE or a prompt). A delta (dump --since) is checked against its delta list and needs its FILE.changes.zst beside it." type:"path"`
	connFlags
	Manifest    string `name:"manifest" help:"Check against this manifest (default: FILE.manifest.json when it exists)." type:"path" placeholder:"FILE"`
	NoManifest  bool   `name:"no-manifest" help:"Do not read FILE.manifest.json."`
	Connections int    `name:"connections" help:"With a database: connections reading its tables in parallel, big tables in key ranges (0: 4)." placeholder:"N"`
}

// verifyResult is what verify prints: the archive check and, with a
// database, the database check.
type verifyResult struct {
	Archive  *verify.ArchiveReport  `json:"archive"`
	Database *verify.DatabaseReport `json:"database,omitempty"`
	OK       bool                   `json:"ok"`
	Failure  string                 `json:"failure,omitempty"`
}

func (c *verifyCmd) Run(ctx context.Context, e *env) error {
	checkDB := c.DSN != "" || c.DefaultsFile != "" || c.InstallDir != ""
	if c.Manifest != "" && c.NoManifest {
		return usageErr("--manifest and --no-manifest exclude each other")
	}
	if checkDB && c.NoManifest {
		return usageErr("a database check needs the manifest: drop --no-manifest")
	}
	// A missing or unreadable archive fails here, before any progress line.
	size, err := archiveSize(c.File)
	if err != nil {
		return err
	}
	opt := verify.Options{Passphrase: e.secret("LAMIGRATE_PASSPHRASE", "Archive passphrase"), NoManifest: c.NoManifest}
	if c.Manifest != "" {
		m, err := verify.ReadManifest(c.Manifest)
		if err != nil {
			return withStatus(exitUsage, err)
		}
		opt.Manifest = m
	}
	if opt.Manifest == nil && !c.NoManifest {
		m, err := readManifestBeside(c.File)
		if err != nil {
			return err
		}
		opt.Manifest = m
	}
	if checkDB && opt.Manifest == nil {
		return usageErr("a database check needs the dump's manifest: put %s beside the archive or name it with --manifest", verify.ManifestPath(c.File))
	}
	// The database is reached before the long archive read, so a wrong DSN
	// fails at once.
	var res verifyResult
	var dbErr error
	var runDB func() error
	if checkDB {
		db, _, err := c.open(ctx, e)
		if err != nil {
			return err
		}
		defer db.Close()
		runDB = func() error {
			t := e.ui.task("verify database", 0, false)
			rep, err := verify.Database(ctx, db, opt.Manifest, verify.Options{Progress: t, Connections: c.Connections})
			res.Database = rep
			var de *verify.DiffError
			if rep != nil && (err == nil || errors.As(err, &de)) {
				t.Finish(fmt.Sprintf("%d tables, %d rows", len(rep.Tables), rep.Rows))
			} else {
				t.Finish("failed")
			}
			return err
		}
	}

	t := e.ui.task("verify archive", size, true)
	opt.Progress = t
	opt.NoManifest = true // already read above
	rep, archErr := verify.File(ctx, c.File, opt)
	if rep == nil {
		t.Finish("failed")
		return trimOrigin(archErr)
	}
	if c.Manifest != "" {
		rep.Manifest = c.Manifest
	} else if opt.Manifest != nil {
		rep.Manifest = verify.ManifestPath(c.File)
	}
	t.Finish(rep.Codec)
	res.Archive = rep
	if runDB != nil && ctx.Err() == nil {
		dbErr = runDB()
		var de *verify.DiffError
		if dbErr != nil && !errors.As(dbErr, &de) {
			// No verdict (connection lost, no privileges): still print
			// what the archive check found.
			dbErr = fmt.Errorf("database check failed: %w", dbErr)
		}
	}
	first := archErr
	if first == nil {
		first = dbErr
	}
	res.OK = first == nil
	if first != nil {
		res.Failure = trimOrigin(first).Error()
	}
	if err := e.ui.result(res, func(w io.Writer) { printVerify(w, &res) }); err != nil {
		return err
	}
	if first != nil {
		return trimOrigin(first)
	}
	return nil
}

// archiveSize opens the archive once to prove it can be read and returns its
// size; the error names the file.
func archiveSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return 0, withStatus(exitUsage, fmt.Errorf("cannot read the archive %s: %v", path, err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, withStatus(exitUsage, fmt.Errorf("cannot read the archive %s: %v", path, err))
	}
	if st.IsDir() {
		return 0, withStatus(exitUsage, fmt.Errorf("%s is a folder, not an archive: name the dump file", path))
	}
	return st.Size(), nil
}

// readManifestBeside reads FILE.manifest.json when it exists.
func readManifestBeside(file string) (*verify.Manifest, error) {
	p := verify.ManifestPath(file)
	if _, err := os.Stat(p); err != nil {
		return nil, nil
	}
	m, err := verify.ReadManifest(p)
	if err != nil {
		return nil, withStatus(exitFailure, fmt.Errorf("%w (move it away or use --no-manifest to check the archive alone)", err))
	}
	return m, nil
}

// originTrimmed drops the library's "verify: " prefix: the CLI already
// prints "lamigrate verify: ".
type originTrimmed struct{ err error }

func (o originTrimmed) Error() string { return strings.TrimPrefix(o.err.Error(), "verify: ") }
func (o originTrimmed) Unwrap() error { return o.err }

func trimOrigin(err error) error {
	if err == nil {
		return nil
	}
	return originTrimmed{err}
}

func printVerify(w io.Writer, r *verifyResult) {
	a := r.Archive
	fmt.Fprintf(w, "Archive   %s\n", a.Path)
	codec := a.Codec
	if a.Codec == "none" {
		codec = "none (plain SQL)"
	}
	if a.Checksummed {
		codec += ", checksummed"
	} else {
		codec += ", no container checksum"
	}
	if a.Encrypted {
		codec += ", encrypted (age)"
	}
	fmt.Fprintf(w, "  codec     %s\n", codec)
	fmt.Fprintf(w, "  file      %s (%d bytes)  sha256 %s\n", bytesize.Format(a.File.Bytes), a.File.Bytes, a.File.SHA256)
	fmt.Fprintf(w, "  sql       %s (%d bytes)  xxh3 %s\n", bytesize.Format(a.SQL.Bytes), a.SQL.Bytes, a.SQL.XXH3)
	switch {
	case a.Format == verify.FormatLamigrate && a.Delta != nil:
		fmt.Fprintf(w, "  format    lamigrate delta with completion marker (only the changes since its base)\n")
	case a.Format == verify.FormatLamigrate && a.DeltaStream:
		fmt.Fprintf(w, "  format    lamigrate delta with completion marker, without its manifest (only its completeness is checked)\n")
	case a.Format == verify.FormatLamigrate:
		fmt.Fprintf(w, "  format    lamigrate dump with completion marker\n")
	case a.Format == verify.FormatMysqldump:
		fmt.Fprintf(w, "  format    plain mysqldump file (weaker evidence: no recorded length or checksum)\n")
	default:
		fmt.Fprintf(w, "  format    unknown (no completion marker, no mysqldump trailer)\n")
	}
	if a.Manifest != "" {
		fmt.Fprintf(w, "  manifest  %s\n", a.Manifest)
	} else {
		fmt.Fprintf(w, "  manifest  none\n")
	}
	if a.Delta != nil {
		printDelta(w, a)
	} else {
		printTables(w, a)
	}
	fmt.Fprintln(w)
	for _, c := range a.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %-20s %s\n", mark, c.Name, c.Detail)
	}
	for _, n := range a.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	switch {
	case a.OK && a.Delta != nil:
		fmt.Fprintf(w, "Archive verdict: OK, a whole and complete delta since %s (%s evidence)\n", a.Delta.Base.Archive, a.Evidence)
	case a.OK && a.DeltaStream:
		fmt.Fprintf(w, "Archive verdict: OK, a whole delta (%s evidence of its completeness; without its manifest its content is not checked)\n", a.Evidence)
	case a.OK:
		fmt.Fprintf(w, "Archive verdict: OK, whole and complete (%s evidence)\n", a.Evidence)
	default:
		fmt.Fprintf(w, "Archive verdict: FAILED: %s\n", strings.TrimPrefix(a.Failure, "verify: "))
	}

	if d := r.Database; d != nil {
		fmt.Fprintf(w, "\nDatabase  %s  (%d tables, %d rows, %.1f s)\n", ident.Quote(d.Database), len(d.Tables), d.Rows, d.Seconds)
		if len(d.Ignored) > 0 {
			fmt.Fprintf(w, "  ignored   %s\n", strings.Join(d.Ignored, ", "))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  TABLE\tSTATUS\tROWS\tMANIFEST ROWS\tDIGEST\n")
		for _, t := range d.Tables {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", t.Name, t.Status, count(t.Rows), count(t.ManifestRows), t.Digest)
		}
		tw.Flush()
		fmt.Fprintf(w, "  routines  %s, %s\n", plural(d.Routines, "routine"), plural(d.Events, "event"))
		for _, n := range d.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		switch {
		case !d.OK && len(d.Differences) == 0 && d.Failure != "":
			fmt.Fprintf(w, "Database verdict: none, the check did not finish: %s\n", strings.TrimPrefix(d.Failure, "verify: "))
		case d.OK && a.Delta != nil:
			fmt.Fprintf(w, "Database verdict: OK, every row of every table matches the full state after the delta (unchanged rows included); views, triggers, routines and events are present\n")
		case d.OK:
			fmt.Fprintf(w, "Database verdict: OK, every table matches the manifest row for row; views, triggers, routines and events are present\n")
		default:
			fmt.Fprintf(w, "Database verdict: FAILED, %d difference(s):\n", len(d.Differences))
			for _, m := range d.Differences {
				fmt.Fprintf(w, "  - %s\n", strings.TrimPrefix(m.Error(), "verify: "))
			}
		}
	}
	if r.OK {
		fmt.Fprintln(w, "\nVerdict: OK")
	} else {
		fmt.Fprintf(w, "\nVerdict: FAILED: %s\n", r.Failure)
	}
}

// printTables prints a full dump's tables.
func printTables(w io.Writer, a *verify.ArchiveReport) {
	var rows int64
	approx := false
	for _, t := range a.Tables {
		if t.ManifestRows >= 0 {
			rows += t.ManifestRows
		} else {
			rows += t.RowsApprox
			approx = true
		}
	}
	tilde := ""
	if approx {
		tilde = "~"
	}
	fmt.Fprintf(w, "  tables    %d, %s%d rows  (%.1f s)\n", len(a.Tables), tilde, rows, a.Seconds)
	if len(a.Tables) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  TABLE\tROWS\tINSERTS\tSQL BYTES\t\n")
		for _, t := range a.Tables {
			n := fmt.Sprintf("~%d", t.RowsApprox)
			if t.ManifestRows >= 0 {
				n = fmt.Sprint(t.ManifestRows)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t\n", t.Name, n, t.Inserts, bytesize.Format(t.Bytes))
		}
		tw.Flush()
	}
}

// printDelta prints what a delta archive applies to and changes, per
// table: its action, the keys it deletes and the rows it writes as the
// archive holds them (with the manifest's count where it differs), the
// changed rows its changes file lists, and the stream's bytes.
func printDelta(w io.Writer, a *verify.ArchiveReport) {
	d := a.Delta
	created := "at an unrecorded time"
	if !d.Base.Created.IsZero() {
		created = d.Base.Created.UTC().Format(time.DateTime + " UTC")
	}
	fmt.Fprintf(w, "  delta     since base %s (dumped %s, database %s); apply it to a database that holds that base\n",
		d.Base.Archive, created, ident.Quote(d.Base.Database))
	if d.Quiet {
		fmt.Fprintf(w, "  quiet     proven: nothing wrote to the dumped tables between the delta's snapshot and its end\n")
	} else {
		fmt.Fprintf(w, "  quiet     not proven (dumped --live): a row written after its snapshot may be missing from it\n")
	}
	if d.Changes != "" {
		fmt.Fprintf(w, "  changes   %s\n", d.Changes)
	}
	sqlBytes := map[string]int64{}
	for _, t := range a.Tables {
		sqlBytes[t.Name] = t.Bytes
	}
	var changed, dropped int
	var deleted, written int64
	for _, t := range d.Tables {
		if t.Action == "drop" {
			dropped++
		} else {
			changed++
		}
		deleted += t.ArchiveDeleted
		written += t.ArchiveWritten
	}
	fmt.Fprintf(w, "  tables    %d changed, %d dropped; %s deleted, %s written  (%.1f s)\n",
		changed, dropped, plural(int(deleted), "key"), plural(int(written), "row"), a.Seconds)
	if len(d.Tables) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  TABLE\tACTION\tDELETED\tWRITTEN\tCHANGES\tSQL BYTES\t\n")
	for _, t := range d.Tables {
		action := t.Action
		switch {
		case action == "":
			action = "not in manifest"
		case t.Why != "":
			action += " (" + t.Why + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t\n", t.Name, action,
			deltaCount(t.ArchiveDeleted, t.Deleted), deltaCount(t.ArchiveWritten, t.Replaced), count(t.Changes), bytesize.Format(sqlBytes[t.Name]))
	}
	tw.Flush()
}

// deltaCount shows a count the archive holds, and the manifest's when it
// differs.
func deltaCount(got, want int64) string {
	if got == want {
		return fmt.Sprint(got)
	}
	return fmt.Sprintf("%d (manifest: %d)", got, want)
}

func count(n int64) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
