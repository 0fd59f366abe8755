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
	"strconv"

	"github.com/qualityunit/lamigrate/internal/chunk"
)

// rowDigestsCheck checks the row digests file the manifest names, beside
// the archive at path: present, the size and SHA-256 the manifest records,
// whole (internal/chunk's structure: every block and table count adds up,
// the end record is there), made under the contract the manifest names,
// and listing the manifest's tables with the manifest's row counts.
func rowDigestsCheck(path string, m *Manifest) checked {
	rd := m.RowDigests
	c := checked{Check: Check{Name: "row digests"}}
	fail := func(mm *MismatchError) checked {
		c.Detail, c.err = mm.Error(), mm
		return c
	}
	name := filepath.Join(filepath.Dir(path), filepath.Base(rd.Name))
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		// Only a later dump --since reads it, on the machine that wrote
		// the dump; a copy of the archive elsewhere (pushed, pulled) is
		// whole without it.
		c.OK, c.Detail = true, name+" is not beside the archive: not checked (only a later dump --since needs it, where the dump was written)"
		return c
	}
	if err != nil {
		return fail(&MismatchError{What: RowDigestsDamaged, Want: name, Got: err.Error()})
	}
	defer f.Close()
	h := sha256.New()
	tee := io.TeeReader(f, h)
	hdr, tables, perr := chunk.ReadAll(tee)
	io.Copy(h, f) // what the reader left after the end record
	st, serr := f.Stat()
	got := hex.EncodeToString(h.Sum(nil))
	switch {
	case serr == nil && st.Size() != rd.Size:
		return fail(&MismatchError{What: RowDigestsSize, Want: strconv.FormatInt(rd.Size, 10), Got: strconv.FormatInt(st.Size(), 10)})
	case got != rd.SHA256:
		return fail(&MismatchError{What: RowDigestsSHA256, Want: rd.SHA256, Got: got})
	case perr != nil:
		return fail(&MismatchError{What: RowDigestsDamaged, Want: name, Got: perr.Error()})
	case hdr.Version != rd.Contract || hdr.TimeZone != rd.TimeZone || hdr.Charset != rd.Charset:
		return fail(&MismatchError{What: RowDigestsContract,
			Want: fmt.Sprintf("%s, time zone %s, %s", rd.Contract, rd.TimeZone, rd.Charset),
			Got:  fmt.Sprintf("%s, time zone %s, %s", hdr.Version, hdr.TimeZone, hdr.Charset)})
	}
	inFile := map[string]*chunk.Table{}
	var rows int64
	keyed := 0
	for _, t := range tables {
		inFile[t.Name] = t
		if t.Key != nil {
			rows += t.Rows
			keyed++
		}
	}
	for _, t := range m.Tables {
		ft := inFile[t.Name]
		if ft == nil {
			return fail(&MismatchError{Table: t.Name, What: TableMissing, Got: "row digests file"})
		}
		if ft.Rows != t.Rows {
			return fail(&MismatchError{Table: t.Name, What: RowDigestsRows, Want: strconv.FormatInt(t.Rows, 10), Got: strconv.FormatInt(ft.Rows, 10)})
		}
		delete(inFile, t.Name)
	}
	for name := range inFile {
		return fail(&MismatchError{Table: name, What: TableExtra, Got: "row digests file"})
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s (%s) lists %s of %s in key order, with the manifest's row counts (contract %s)",
		filepath.Base(name), plural(len(tables), "table"), plural(int(rows), "row"), plural(keyed, "keyed table"), rd.Contract)
	return c
}
