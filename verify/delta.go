package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/qualityunit/lamigrate/internal/chunk"
	"github.com/qualityunit/lamigrate/internal/manifest"
)

// DeltaReport describes a delta archive (dump --since): the base it
// applies to and, per table it changes, what its manifest says and what
// the archive holds.
type DeltaReport struct {
	// Base is the dump the delta applies to, as its manifest names it.
	Base manifest.Base `json:"base"`
	// Quiet: the dump proved nothing wrote to the dumped tables between
	// its snapshot and its end.
	Quiet bool `json:"quiet"`
	// Changes is the changes file's path ("" for Archive, which knows no
	// folder and does not read it).
	Changes string           `json:"changes,omitempty"`
	Tables  []DeltaTableStat `json:"tables"`
}

// DeltaTableStat is one table a delta changes.
type DeltaTableStat struct {
	Name string `json:"name"`
	// Action and Why are the manifest's (manifest.DeltaRows, DeltaWhole,
	// DeltaDrop); Action is "" for a table the archive changes but the
	// manifest's delta does not list.
	Action string `json:"action"`
	Why    string `json:"why,omitempty"`
	// Deleted and Replaced are the manifest's counts.
	Deleted  int64 `json:"deleted"`
	Replaced int64 `json:"replaced"`
	// ArchiveDeleted counts the keys of the stream's DELETE statements for
	// the table, ArchiveWritten the rows of its INSERT and REPLACE
	// statements, both read exactly (string literals skipped whole).
	ArchiveDeleted int64 `json:"archive_deleted"`
	ArchiveWritten int64 `json:"archive_written"`
	// Dropped and Created: the stream drops (DROP TABLE) and creates
	// (CREATE TABLE) the table.
	Dropped bool `json:"dropped"`
	Created bool `json:"created"`
	// Changes counts the changed rows the changes file lists for the
	// table; -1 when it was not read.
	Changes int64 `json:"changes"`
}

// deltaChecks compares what a delta's stream holds, table by table, with
// the manifest's delta table list (see DeltaReport), and the list with the
// manifest's table list. It fills rep.Delta.
func deltaChecks(m *Manifest, rep *ArchiveReport, sc *scanner) []checked {
	d := m.Delta
	dr := rep.Delta
	if dr == nil {
		dr = &DeltaReport{Base: d.Base, Quiet: d.Quiet}
		rep.Delta = dr
	}
	dr.Tables = []DeltaTableStat{}
	var out []checked
	fail := func(mm *MismatchError) {
		out = append(out, checked{Check: Check{Name: "delta tables", Detail: mm.Error()}, err: mm})
	}
	// The tables the stream touches: a section, a statement, a DROP or a
	// CREATE.
	touched := map[string]bool{}
	for _, t := range sc.tables {
		touched[t.Name] = true
	}
	for _, set := range []map[string]bool{sc.dropped, sc.created} {
		for n := range set {
			touched[n] = true
		}
	}
	listed := map[string]bool{}
	var deleted, written int64
	for _, dt := range d.Tables {
		listed[dt.Name] = true
		st := DeltaTableStat{Name: dt.Name, Action: dt.Action, Why: dt.Why, Deleted: dt.Deleted, Replaced: dt.Replaced,
			ArchiveDeleted: sc.deleted[dt.Name], ArchiveWritten: sc.written[dt.Name],
			Dropped: sc.dropped[dt.Name], Created: sc.created[dt.Name], Changes: -1}
		dr.Tables = append(dr.Tables, st)
		deleted += st.ArchiveDeleted
		written += st.ArchiveWritten
		mt := m.Table(dt.Name)
		counts := func() {
			if st.ArchiveWritten != dt.Replaced {
				fail(&MismatchError{Table: dt.Name, What: DeltaWritten, Want: strconv.FormatInt(dt.Replaced, 10), Got: strconv.FormatInt(st.ArchiveWritten, 10)})
			}
			if st.ArchiveDeleted != dt.Deleted {
				fail(&MismatchError{Table: dt.Name, What: DeltaDeleted, Want: strconv.FormatInt(dt.Deleted, 10), Got: strconv.FormatInt(st.ArchiveDeleted, 10)})
			}
		}
		switch dt.Action {
		case manifest.DeltaDrop:
			if mt != nil {
				fail(&MismatchError{Table: dt.Name, What: DeltaManifest, Want: "drops it", Got: "lists it"})
			}
			if !st.Dropped {
				fail(&MismatchError{Table: dt.Name, What: DeltaNotDropped})
			}
			counts()
		case manifest.DeltaWhole:
			switch {
			case mt == nil:
				fail(&MismatchError{Table: dt.Name, What: DeltaManifest, Want: "carries it whole", Got: "does not list it"})
			case mt.Rows != dt.Replaced:
				fail(&MismatchError{Table: dt.Name, What: DeltaManifest, Want: fmt.Sprintf("carries it whole with %d rows", dt.Replaced), Got: fmt.Sprintf("says it has %d", mt.Rows)})
			}
			if !touched[dt.Name] {
				fail(&MismatchError{Table: dt.Name, What: DeltaNotCarried, Want: "whole"})
				break
			}
			if !st.Created {
				fail(&MismatchError{Table: dt.Name, What: DeltaNotCreated})
			}
			counts()
		case manifest.DeltaRows:
			if mt == nil {
				fail(&MismatchError{Table: dt.Name, What: DeltaManifest, Want: "changes its rows", Got: "does not list it"})
			}
			switch {
			case st.Dropped:
				fail(&MismatchError{Table: dt.Name, What: DeltaRecreated, Got: "drops"})
			case st.Created:
				fail(&MismatchError{Table: dt.Name, What: DeltaRecreated, Got: "creates"})
			}
			if !touched[dt.Name] && dt.Deleted+dt.Replaced > 0 {
				fail(&MismatchError{Table: dt.Name, What: DeltaNotCarried, Want: fmt.Sprintf("%d deleted, %d written", dt.Deleted, dt.Replaced)})
				break
			}
			counts()
		default:
			fail(&MismatchError{Table: dt.Name, What: DeltaManifest, Want: strconv.Quote(dt.Action)})
		}
	}
	views := map[string]bool{}
	for _, v := range m.Views {
		views[v] = true
	}
	var unlisted []string
	for n := range touched {
		// A view's placeholder table (mysqldump style) is created and
		// dropped but holds no rows.
		if !listed[n] && !(views[n] && sc.written[n] == 0 && sc.deleted[n] == 0) {
			unlisted = append(unlisted, n)
		}
	}
	sort.Strings(unlisted)
	for _, n := range unlisted {
		st := DeltaTableStat{Name: n, ArchiveDeleted: sc.deleted[n], ArchiveWritten: sc.written[n],
			Dropped: sc.dropped[n], Created: sc.created[n], Changes: -1}
		dr.Tables = append(dr.Tables, st)
		what := "changes"
		switch {
		case st.Dropped:
			what = "drops"
		case st.Created:
			what = "creates"
		case st.ArchiveWritten > 0:
			what = "writes rows of"
		case st.ArchiveDeleted > 0:
			what = "deletes rows of"
		}
		fail(&MismatchError{Table: n, What: DeltaUnlisted, Got: what})
	}
	if len(out) == 0 {
		out = append(out, checked{Check: Check{Name: "delta tables", OK: true,
			Detail: fmt.Sprintf("the archive changes the %s the manifest's delta lists, as it says: %s deleted, %s written",
				plural(len(d.Tables), "table"), plural(int(deleted), "key"), plural(int(written), "row"))}})
	}
	return out
}

// changesCheck checks the changes file of the delta archive at path: it
// must be there (an import proves the target holds the base by it), have
// the size and SHA-256 the manifest records, read whole
// (chunk.NewChangesReader: every table's count and the end record), be of
// the row digests' contract, and list for each table the delta changes row
// by row as many deleted and written rows as the manifest's delta says.
// It fills the tables' Changes in rep.Delta.
func changesCheck(path string, m *Manifest, rep *ArchiveReport) checked {
	d := m.Delta
	c := checked{Check: Check{Name: "delta changes"}}
	fail := func(mm *MismatchError) checked {
		c.Detail, c.err = mm.Error(), mm
		return c
	}
	// Beside the archive under the archive's own name (transfer and load
	// name it so, also for a renamed copy); under the name the manifest
	// records when only that one is there.
	name := chunk.ChangesPathFor(path)
	if _, err := os.Stat(name); err != nil && d.Changes.Name != "" {
		if alt := filepath.Join(filepath.Dir(path), filepath.Base(d.Changes.Name)); fileExists(alt) {
			name = alt
		}
	}
	if rep.Delta != nil {
		rep.Delta.Changes = name
	}
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return fail(&MismatchError{What: ChangesMissing, Want: name})
	}
	if err != nil {
		return fail(&MismatchError{What: ChangesDamaged, Want: name, Got: err.Error()})
	}
	defer f.Close()
	h := sha256.New()
	type count struct{ deleted, written int64 }
	counts := map[string]*count{}
	var order []string
	var hdr chunk.Header
	perr := func() error {
		r, err := chunk.NewChangesReader(io.TeeReader(f, h))
		if err != nil {
			return err
		}
		defer r.Close()
		hdr = r.Header()
		for {
			var n count
			t, err := r.Next(func(ch chunk.Change) error {
				if ch.InNew {
					n.written++
				} else {
					n.deleted++
				}
				return nil
			})
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if counts[t.Name] == nil {
				counts[t.Name] = &count{}
				order = append(order, t.Name)
			}
			counts[t.Name].deleted += n.deleted
			counts[t.Name].written += n.written
		}
	}()
	io.Copy(h, f) // what the reader left unread, so the SHA-256 covers the file
	st, serr := f.Stat()
	got := hex.EncodeToString(h.Sum(nil))
	switch {
	case serr == nil && d.Changes.Size > 0 && st.Size() != d.Changes.Size:
		return fail(&MismatchError{What: ChangesSize, Want: strconv.FormatInt(d.Changes.Size, 10), Got: strconv.FormatInt(st.Size(), 10)})
	case d.Changes.SHA256 != "" && got != d.Changes.SHA256:
		return fail(&MismatchError{What: ChangesSHA256, Want: d.Changes.SHA256, Got: got})
	case perr != nil:
		msg := perr.Error()
		if errors.Is(perr, chunk.ErrCorrupt) {
			// chunk.ErrCorrupt names the row digests file; this is the
			// changes file.
			msg = "damaged or incomplete" + strings.TrimPrefix(msg, chunk.ErrCorrupt.Error())
		}
		return fail(&MismatchError{What: ChangesDamaged, Want: name, Got: msg})
	}
	if rd := m.RowDigests; rd != nil && (hdr.Version != rd.Contract || hdr.TimeZone != rd.TimeZone || hdr.Charset != rd.Charset) {
		return fail(&MismatchError{What: ChangesContract,
			Want: fmt.Sprintf("%s, time zone %s, %s", rd.Contract, rd.TimeZone, rd.Charset),
			Got:  fmt.Sprintf("%s, time zone %s, %s", hdr.Version, hdr.TimeZone, hdr.Charset)})
	}
	desc := func(deleted, written int64) string {
		return fmt.Sprintf("%s (%d deleted, %d written)", plural(int(deleted+written), "changed row"), deleted, written)
	}
	var total int64
	rowTables := 0
	for _, dt := range d.Tables {
		if dt.Action != manifest.DeltaRows {
			continue
		}
		rowTables++
		n := counts[dt.Name]
		if n == nil {
			n = &count{}
		}
		delete(counts, dt.Name)
		total += n.deleted + n.written
		if rep.Delta != nil {
			for i := range rep.Delta.Tables {
				if rep.Delta.Tables[i].Name == dt.Name {
					rep.Delta.Tables[i].Changes = n.deleted + n.written
				}
			}
		}
		if n.deleted != dt.Deleted || n.written != dt.Replaced {
			return fail(&MismatchError{Table: dt.Name, What: ChangesCount, Want: desc(dt.Deleted, dt.Replaced), Got: desc(n.deleted, n.written)})
		}
	}
	for _, t := range order {
		if n := counts[t]; n != nil {
			return fail(&MismatchError{Table: t, What: ChangesCount, Want: "no row-by-row change of it", Got: desc(n.deleted, n.written)})
		}
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s lists %s of %s, as the manifest's delta says (contract %s)",
		filepath.Base(name), plural(int(total), "changed row"), plural(rowTables, "table"), hdr.Version)
	return c
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
