package isolate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/qualityunit/lamigrate/internal/ident"
	"github.com/qualityunit/lamigrate/internal/mysqltest"
)

func sameDigests(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tables; want %d", what, len(got), len(want))
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: table %s digest = %s; want %s (as before isolation)", what, n, got[n], w)
		}
	}
}

func activeCount(t *testing.T, db *mysqltest.DB, p *Profile) map[string]int64 {
	t.Helper()
	st, err := p.Inspect(context.Background(), db.DB)
	require.NoError(t, err, "inspecting the profile's sources")
	m := map[string]int64{}
	for _, s := range st {
		m[s.Name] = s.Active
	}
	return m
}

func column(t *testing.T, db *mysqltest.DB, table, col, key, id string) string {
	t.Helper()
	var v *string
	q := "SELECT " + ident.Quote(col) + " FROM " + ident.Quote(table) + " WHERE " + ident.Quote(key) + " = ?"
	if err := db.QueryRow(q, id).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if v == nil {
		return "NULL"
	}
	return *v
}

func TestIsolateRestoreRoundTrip(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	ctx := context.Background()
	before := db.Digests(t)
	state := filepath.Join(t.TempDir(), "state.json")
	p := DefaultProfile()
	var events []Event
	res, err := Isolate(ctx, db.DB, p, state, Options{Progress: ProgressFunc(func(e Event) { events = append(events, e) })})
	if err != nil {
		t.Fatalf("Isolate = %v", err)
	}
	wantStatus := map[string]string{"mail accounts": "isolated", "mail pipe": "isolated", "facebook pages": "isolated",
		"twitter accounts": "skipped", "contact widgets": "isolated", "chat invitations": "isolated", "ip allow-list": "isolated"}
	wantChanged := map[string]int64{"mail accounts": 3, "mail pipe": 1, "facebook pages": 1, "contact widgets": 2, "chat invitations": 1, "ip allow-list": 1}
	for _, s := range res.Sources {
		if s.Status != wantStatus[s.Name] || s.Changed != wantChanged[s.Name] {
			t.Errorf("Isolate: source %s = %s changed %d; want %s changed %d", s.Name, s.Status, s.Changed, wantStatus[s.Name], wantChanged[s.Name])
		}
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "qu_la_twitter_accounts does not exist") {
		t.Errorf("Isolate warnings = %q; want one about the missing twitter table", res.Warnings)
	}
	var warned bool
	for _, e := range events {
		warned = warned || (e.Step == "warning" && strings.Contains(e.Message, "twitter"))
	}
	if !warned {
		t.Errorf("Isolate reported no warning event for the missing twitter table: %+v", events)
	}
	for name, n := range activeCount(t, db, p) {
		if n > 0 {
			t.Errorf("after Isolate, source %s has %d active rows; want 0", name, n)
		}
	}
	if got := column(t, db, "qu_la_contactwidgets", "status", "contactwidgetid", "w0000001"); got != "N" {
		t.Errorf("contact widget presence status = %q; want N untouched", got)
	}
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	s, err := ReadState(state)
	require.NoError(t, err, "reading the state file after isolate")
	if ss := s.source("ip allow-list"); ss == nil || len(ss.Rows) != 1 || string(ss.Rows[0].Original.Bytes) != "10.0.0.1\n192.168.1.0/24  " {
		t.Fatalf("state ip allow-list = %+v; want its original value", ss)
	}

	rr, err := Restore(ctx, db.DB, state, Options{})
	if err != nil {
		t.Fatalf("Restore = %v", err)
	}
	if rr.Restored() != 9 || rr.Conflicts() != 0 {
		t.Errorf("Restore restored %d rows with %d conflicts; want 9, 0", rr.Restored(), rr.Conflicts())
	}
	sameDigests(t, "after restore", db.Digests(t), before)

	rr, err = Restore(ctx, db.DB, state, Options{})
	if err != nil || rr.Restored() != 0 || rr.Conflicts() != 0 {
		t.Fatalf("second Restore = %d restored, %d conflicts, %v; want 0, 0, nil", rr.Restored(), rr.Conflicts(), err)
	}
	var already int64
	for _, s := range rr.Sources {
		already += s.Already
	}
	if already != 9 {
		t.Errorf("second Restore found %d rows already restored; want 9", already)
	}
	sameDigests(t, "after second restore", db.Digests(t), before)

	// A restored state starts a new round, archiving the old file.
	if _, err := Isolate(ctx, db.DB, p, state, Options{}); err != nil {
		t.Fatalf("Isolate after restore = %v", err)
	}
	if m, _ := filepath.Glob(state + ".restored-*"); len(m) != 1 {
		t.Errorf("archived state files = %v; want one", m)
	}
	_, err = Restore(ctx, db.DB, state, Options{})
	require.NoError(t, err, "restore")
	sameDigests(t, "after second round", db.Digests(t), before)
}

// (a) a crash between two sources: restore still returns everything.
func TestIsolateKilledBetweenSources(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	before := db.Digests(t)
	state := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{Keep: true, afterSource: func(name string) {
		if name == "mail pipe" {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "kept") {
		t.Fatalf("Isolate cancelled with Keep = %v; want context.Canceled, kept", err)
	}
	s, err := ReadState(state)
	require.NoError(t, err, "reading the state file")
	if len(s.Sources) != 2 || s.Sources[0].Status != Done || s.Sources[1].Status != Done {
		t.Fatalf("state after crash has %+v; want the two mail sources done", s.Sources)
	}
	if got := column(t, db, "qu_la_mail_accounts", "status", "mailaccountid", "m0000002"); got != "I" {
		t.Errorf("mail account m0000002 = %q; want I (isolated before the crash)", got)
	}
	if got := column(t, db, "qu_la_facebook_pages", "status", "pageid", "f0000001"); got != "A" {
		t.Errorf("facebook page = %q; want A (not reached)", got)
	}
	if _, err := Restore(context.Background(), db.DB, state, Options{}); err != nil {
		t.Fatalf("Restore = %v", err)
	}
	sameDigests(t, "after restore", db.Digests(t), before)
}

// (a') a crash after the state was written but before the update committed.
func TestIsolateCrashBeforeCommit(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	before := db.Digests(t)
	state := filepath.Join(t.TempDir(), "state.json")
	crash := errors.New("crash")
	_, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, Options{Keep: true, afterRecord: func(name string) error {
		if name == "facebook pages" {
			return crash
		}
		return nil
	}})
	if !errors.Is(err, crash) {
		t.Fatalf("Isolate = %v; want the crash", err)
	}
	s, _ := ReadState(state)
	if ss := s.source("facebook pages"); ss == nil || ss.Status != Started || len(ss.Rows) != 1 {
		t.Fatalf("state facebook pages = %+v; want started with 1 row recorded", ss)
	}
	rr, err := Restore(context.Background(), db.DB, state, Options{})
	require.NoError(t, err, "restore")
	for _, sr := range rr.Sources {
		if sr.Name == "facebook pages" && (sr.Already != 1 || sr.Restored != 0) {
			t.Errorf("Restore facebook pages = %+v; want 1 already (its update never committed)", sr)
		}
	}
	sameDigests(t, "after restore", db.Digests(t), before)
}

// (b) Ctrl-C restores what was done unless Keep.
func TestIsolateCancelRestores(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	before := db.Digests(t)
	state := filepath.Join(t.TempDir(), "state.json")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{afterSource: func(name string) {
		if name == "contact widgets" {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "switched back on what this run changed") {
		t.Fatalf("Isolate cancelled = %v; want context.Canceled and restored", err)
	}
	if res == nil || res.RolledBack == nil || res.RolledBack.Restored() != 7 {
		t.Fatalf("Isolate cancelled: rolled back = %+v; want 7 rows restored", res)
	}
	sameDigests(t, "after cancelled isolate", db.Digests(t), before)
	// The same command again works.
	if _, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, Options{}); err != nil {
		t.Fatalf("Isolate again after a cancelled run = %v", err)
	}
}

// (c) conflicts are reported and left alone; missing rows reported.
func TestRestoreConflicts(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	state := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	_, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{})
	require.NoError(t, err, "isolate")
	db.MustExec(t, "UPDATE qu_la_mail_accounts SET status = 'A' WHERE mailaccountid = 'm0000002'",
		"DELETE FROM qu_la_contactwidgets WHERE contactwidgetid = 'w0000002'")
	rr, err := Restore(ctx, db.DB, state, Options{})
	require.NoError(t, err, "restore after rows changed")
	var conflicts []Conflict
	var missing []Value
	for _, s := range rr.Sources {
		conflicts = append(conflicts, s.Conflicts...)
		missing = append(missing, s.Missing...)
	}
	if len(conflicts) != 1 || string(conflicts[0].Key.Bytes) != "m0000002" || string(conflicts[0].Current.Bytes) != "A" || string(conflicts[0].Original.Bytes) != "P" {
		t.Errorf("Restore conflicts = %+v; want m0000002 (original P, now A)", conflicts)
	}
	if len(missing) != 1 || string(missing[0].Bytes) != "w0000002" {
		t.Errorf("Restore missing = %v; want w0000002", missing)
	}
	if got := column(t, db, "qu_la_mail_accounts", "status", "mailaccountid", "m0000002"); got != "A" {
		t.Errorf("conflicting row = %q; want A left alone", got)
	}
	if got := column(t, db, "qu_la_mail_accounts", "status", "mailaccountid", "m0000003"); got != "S" {
		t.Errorf("other row = %q; want S restored", got)
	}
	if _, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{}); err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Errorf("Isolate on a state restored with conflicts = %v; want a refusal", err)
	}
}

// (d) a re-run after a partial run keeps the first originals.
func TestIsolateRerunKeepsFirstOriginals(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	state := filepath.Join(t.TempDir(), "state.json")
	ctx := context.Background()
	crash := errors.New("crash")
	_, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{Keep: true, afterRecord: func(name string) error {
		if name == "mail accounts" {
			return crash
		}
		return nil
	}})
	if !errors.Is(err, crash) {
		t.Fatalf("Isolate = %v; want crash", err)
	}
	// Between the runs the row changes to another active value.
	db.MustExec(t, "UPDATE qu_la_mail_accounts SET status = 'S' WHERE mailaccountid = 'm0000001'",
		"INSERT INTO qu_la_mail_accounts VALUES ('m0000007','A','I','new')")
	res, err := Isolate(ctx, db.DB, DefaultProfile(), state, Options{})
	if err != nil {
		t.Fatalf("Isolate re-run = %v", err)
	}
	if res.Sources[0].Recorded != 4 || res.Sources[0].Changed != 4 {
		t.Errorf("re-run mail accounts = %+v; want 4 recorded, 4 changed", res.Sources[0])
	}
	s, _ := ReadState(state)
	orig := map[string]string{}
	for _, r := range s.source("mail accounts").Rows {
		orig[string(r.Key.Bytes)] = string(r.Original.Bytes)
	}
	want := map[string]string{"m0000001": "A", "m0000002": "P", "m0000003": "S", "m0000007": "A"}
	for k, v := range want {
		if orig[k] != v {
			t.Errorf("state original of %s = %q; want %q (the first one recorded)", k, orig[k], v)
		}
	}
	_, err = Restore(ctx, db.DB, state, Options{})
	require.NoError(t, err, "restore")
	if got := column(t, db, "qu_la_mail_accounts", "status", "mailaccountid", "m0000001"); got != "A" {
		t.Errorf("m0000001 after restore = %q; want A, the first original", got)
	}
}

func TestIsolateOddValues(t *testing.T) {
	db := mysqltest.New(t)
	db.MustExec(t,
		"CREATE TABLE `we``ird` (`k``ey` VARBINARY(8) PRIMARY KEY, `sw itch` VARBINARY(8), n INT)",
		"INSERT INTO `we``ird` VALUES (X'00FF01',NULL,1),('b',X'FF00',2),('c','',3),('d','ok',4)",
	)
	before := db.Digests(t)
	p := &Profile{Sources: []Source{{Name: "odd", Table: "we`ird", Key: "k`ey", Column: "sw itch",
		ActiveWhere: "`sw itch` IS NULL OR `sw itch` IN (X'FF00', '') OR n = 4", Write: "off"}}}
	state := filepath.Join(t.TempDir(), "state.json")
	res, err := Isolate(context.Background(), db.DB, p, state, Options{})
	require.NoError(t, err, "isolate with the custom profile")
	if res.Sources[0].Changed != 4 {
		t.Errorf("Isolate changed %d rows; want 4", res.Sources[0].Changed)
	}
	_, err = Restore(context.Background(), db.DB, state, Options{})
	require.NoError(t, err, "restore")
	sameDigests(t, "after restore", db.Digests(t), before)
}

func TestIsolateRestoreOnCopy(t *testing.T) {
	src := mysqltest.New(t)
	liveAgentSchema(t, src)
	before := src.Digests(t)
	state := filepath.Join(t.TempDir(), "state.json")
	_, err := Isolate(context.Background(), src.DB, DefaultProfile(), state, Options{})
	require.NoError(t, err, "isolate of the source")
	// The "import": a copy of the isolated database under another name.
	dst := mysqltest.New(t)
	for tbl := range before {
		dst.MustExec(t, "CREATE TABLE "+ident.Quote(tbl)+" LIKE "+ident.Qualified(src.Name, tbl),
			"INSERT INTO "+ident.Quote(tbl)+" SELECT * FROM "+ident.Qualified(src.Name, tbl))
	}
	rr, err := Restore(context.Background(), dst.DB, state, Options{})
	if err != nil || rr.Restored() != 9 {
		t.Fatalf("Restore on the copy = %v restored, %v; want 9", rr.Restored(), err)
	}
	sameDigests(t, "copy after restore", dst.Digests(t), before)
}

func TestIsolateDryRun(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	before := db.Digests(t)
	state := filepath.Join(t.TempDir(), "state.json")
	res, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, Options{DryRun: true})
	require.NoError(t, err, "isolate, dry run")
	if res.Sources[0].Status != "would isolate" || len(res.Sources[0].Keys) != 3 {
		t.Errorf("dry run mail accounts = %+v; want would isolate 3 keys", res.Sources[0])
	}
	if res.Sources[3].Status != "skipped" {
		t.Errorf("dry run twitter = %+v; want skipped", res.Sources[3])
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dry run created the state file (%v)", err)
	}
	sameDigests(t, "after dry run", db.Digests(t), before)
}

func TestIsolateBadCondition(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	before := db.Digests(t)
	p := DefaultProfile()
	p.Sources[5].ActiveWhere = "rtype = 'I' AND rstatus == 'E'"
	_, err := Isolate(context.Background(), db.DB, p, filepath.Join(t.TempDir(), "s.json"), Options{})
	var pe *ProfileError
	if !errors.As(err, &pe) || pe.Source != "chat invitations" || pe.Field != "active_where" {
		t.Fatalf("Isolate with a typo = %v; want a ProfileError naming chat invitations, active_where", err)
	}
	sameDigests(t, "after refused isolate", db.Digests(t), before)
}

func TestIsolateLocked(t *testing.T) {
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	state := filepath.Join(t.TempDir(), "state.json")
	lf, err := os.OpenFile(state+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	require.NoError(t, err, "opening the lock file")
	defer lf.Close()
	require.NoError(t, syscall.Flock(int(lf.Fd()), syscall.LOCK_EX), "holding the lock as another run would")
	if _, err := Isolate(context.Background(), db.DB, DefaultProfile(), state, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("Isolate while locked = %v; want ErrLocked", err)
	}
	if _, err := Restore(context.Background(), db.DB, state, Options{}); !errors.Is(err, ErrLocked) {
		t.Errorf("Restore while locked = %v; want ErrLocked", err)
	}
}

func TestIsolateOtherDatabase(t *testing.T) {
	a, b := mysqltest.New(t), mysqltest.New(t)
	liveAgentSchema(t, a)
	liveAgentSchema(t, b)
	state := filepath.Join(t.TempDir(), "state.json")
	_, err := Isolate(context.Background(), a.DB, DefaultProfile(), state, Options{Keep: true})
	require.NoError(t, err, "isolate of database a")
	if _, err := Isolate(context.Background(), b.DB, DefaultProfile(), state, Options{}); err == nil || !strings.Contains(err.Error(), "belongs to database") {
		t.Errorf("Isolate of another database with the same state = %v; want a refusal", err)
	}
}

func newSchemaDB(t *testing.T) *mysqltest.DB {
	t.Helper()
	db := mysqltest.New(t)
	liveAgentSchema(t, db)
	return db
}
