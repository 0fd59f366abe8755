package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/qualityunit/lamigrate/internal/manifest"
)

// producer splits the stream into units, one per table, on the goroutine
// that runs the import, and runs the statements outside any table itself.
//
// In the order events happen, for each statement of the stream: a comment
// line may mark the stream as a dump (its first line) or end it (the
// completion marker); a session statement is added to the queue's
// sessions; a table's statement goes to the table's unit, made and added to
// the queue when its first statement comes (or skipped when the progress
// table says it is done), except that a CREATE TABLE and what follows it
// are held back until the first row decides whether its plain keys are
// deferred, and the ALTER TABLE adding them is queued after the rows; a
// statement outside any table ends the current unit, waits until the queue
// is drained, and runs on main. At the end of the stream the last unit is
// closed. The producer's fields are its own: nothing else reads them while
// it runs.
type producer struct {
	c         Config
	q         *queue
	pt        *progressTable
	tally     *tally
	hooks     *hooks
	maxPacket int64
	// account is the importing account; checkDefiners: it may not set
	// every DEFINER, so each one met is checked (Config.StripDefiners off).
	account       account
	checkDefiners bool

	main     *sql.Conn // runs the global statements (and holds the import lock)
	mainSess int       // session statements main has replayed

	// dumpShaped: the stream's first line is a dump's (see queue.dumpShaped)
	dumpShaped bool
	// marker: the stream ended with a valid completion marker
	marker bool
	// delta: the stream is a delta (WithDelta): its REPLACEs may run in
	// any order among themselves (see classify's replace).
	delta bool
}

// produce splits the stream and hands statements to units.
func (p *producer) produce(ctx context.Context, src io.Reader) error {
	sp := NewSplitter(src)
	var mode sqlMode
	var cur *unit
	seen := map[string]bool{}
	sp.OnComment = func(off int64, line []byte) {
		if off < 4096 && dumpHeader(line) {
			p.dumpShaped = true
			p.q.setDumpShaped()
		}
		if strings.HasPrefix(string(line), manifest.MarkerPrefix) {
			n, _, err := manifest.ParseMarker(string(line))
			p.marker = err == nil && n == off
		}
	}
	closeUnit := func() {
		if cur != nil {
			p.q.close(cur)
			cur = nil
		}
	}
	defer closeUnit()
	// endUnit queues what the producer still holds of the current unit,
	// and closes it.
	endUnit := func() error {
		if cur != nil {
			if err := p.settle(cur); err != nil {
				return err
			}
		}
		closeUnit()
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		sp.NoBackslashEscapes = mode.nbe
		st, err := sp.Next()
		if err == io.EOF {
			p.tally.setRead(sp.Offset())
			return endUnit()
		}
		if err != nil {
			if errors.Is(err, ErrStatementTooLarge) {
				return p.tooLarge(st)
			}
			return fmt.Errorf("%w (the archive is damaged or cut short: check it with lamigrate verify)", err)
		}
		raw := sp.Offset() - st.Offset // statement and its delimiter
		text := st.Text
		if st.HasComments {
			text = StripComments(text, mode.nbe)
		}
		p.tally.setRead(sp.Offset())
		p.marker = false // statements after the marker: not a whole dump
		if len(text) == 0 {
			p.tally.addLoaded(raw)
			continue
		}
		cls := classify(text)
		if p.delta && cls.replace {
			cls.plain = true
		}
		switch cls.kind {
		case kindSkip:
			p.tally.addLoaded(raw)
			continue
		case kindForbidden:
			return &StatementError{Offset: st.Offset, Text: snippet(text), Err: fmt.Errorf("%w: the archive must not switch, create or drop databases (dump one database without --databases)", ErrUnsupported)}
		case kindSession:
			mode.set(text)
			p.q.addSession(string(text))
			p.tally.addLoaded(raw)
			continue
		}
		if definerObjects[cls.object] && (p.c.StripDefiners || p.checkDefiners) {
			if d, ok := findDefiner(text); ok {
				switch {
				case p.c.StripDefiners:
					text = stripDefiner(text, d)
				case !p.account.allows(d):
					return &DefinerError{Account: p.account.String(), Late: true,
						Objects: []Object{{Type: cls.object, Name: cls.name, Definer: d.String()}}}
				}
			}
		}
		if int64(len(text))+1 > p.maxPacket {
			return p.tooLarge(Statement{Text: text, Offset: st.Offset})
		}
		if cls.kind == kindGlobal || (cur == nil || cur.table != cls.table) && seen[cls.table] {
			if err := endUnit(); err != nil {
				return err
			}
			if err := p.global(ctx, text, st.Offset, cls); err != nil {
				return err
			}
			p.tally.addLoaded(raw)
			continue
		}
		if cur == nil || cur.table != cls.table {
			if err := endUnit(); err != nil {
				return err
			}
			seen[cls.table] = true
			cur = p.newUnit(cls.table)
		}
		if err := p.put(cur, text, st.Offset, cls, raw, mode.nbe); err != nil {
			return err
		}
	}
}

// dumpHeader reports whether line is the first comment line of a mysqldump,
// mariadb-dump or lamigrate dump.
func dumpHeader(line []byte) bool {
	l := string(line)
	return strings.HasPrefix(l, "-- MySQL dump ") || strings.HasPrefix(l, "-- MariaDB dump ") ||
		strings.HasPrefix(l, "-- lamigrate") && strings.Contains(l, " dump (mysqldump-compatible")
}

func (p *producer) tooLarge(st Statement) error {
	need := (int64(len(st.Text))+1+(1<<20)-1)/(1<<20)*(1<<20) + 1<<20
	msg := fmt.Errorf("%w: it is %d bytes and the server allows %d: run SET GLOBAL max_allowed_packet=%d on the target server (as an administrator) and run the same import again; finished tables are kept", ErrPacketTooLarge, len(st.Text), p.maxPacket, need)
	if need > 1<<30 {
		msg = fmt.Errorf("%w: it is %d bytes, more than any server accepts (1 GiB)", ErrPacketTooLarge, len(st.Text))
	}
	return &StatementError{Offset: st.Offset, Text: snippet(st.Text), Err: msg}
}

// newUnit makes the unit of table, and queues it unless an earlier run
// finished it.
func (p *producer) newUnit(table string) *unit {
	u := &unit{table: table, key: unitKey(table)}
	s, ok := p.pt.unit(u.key)
	if ok && s.done {
		u.skipAll = true
		p.tally.table(true)
		return u
	}
	p.tally.table(false)
	if ok {
		u.skip = s.stmts
	}
	u.done = p.pt.committed(u.key)
	u.progress.Store(u.skip > 0 || len(u.done) > 0)
	u.prefix, u.lastSerial = u.skip, u.skip
	p.q.addUnit(u)
	return u
}

// add gives the stream's next statement of u its ordinal and queues it,
// unless an earlier run did it; sess is the number of session statements
// before it (-1: those read so far).
func (p *producer) add(u *unit, text []byte, off int64, cls class, raw int64, sess int) error {
	ord := u.ordinal
	u.ordinal++
	if u.skipAll || ord < u.skip || u.done[ord] {
		p.tally.addLoaded(raw)
		return nil
	}
	return p.q.push(u, text, item{n: len(text), offset: off, sess: sess, cls: cls, ordinal: ord, raw: raw})
}

// put hands one statement of u, the table being read, to add, deferring
// the plain keys of its CREATE TABLE when it has rows (see deferKeys): in a
// dump, whose tables' statements come together, the CREATE and what
// follows it are held back until the first row, which makes the CREATE go
// without the keys; the ALTER TABLE adding them goes after the last row,
// before the next statement of the table (ALTER TABLE … ENABLE KEYS, a
// trigger) or, when the table's statements end, before anything later in
// the stream can see the table.
func (p *producer) put(u *unit, text []byte, off int64, cls class, raw int64, nbe bool) error {
	switch {
	case u.held != nil && cls.kind != kindData:
		u.held = append(u.held, heldItem{text: append([]byte(nil), text...), offset: off, cls: cls, raw: raw, sess: p.q.sessions()})
		return nil
	case u.held != nil:
		if err := p.unhold(u, true); err != nil {
			return err
		}
	case cls.kind == kindCreate && !u.created:
		u.created = true
		// When keys are kept, an import resumed may still have to add the
		// keys an earlier run deferred.
		if p.dumpShaped && !nbe && !u.skipAll && (!p.c.KeepIndexes || p.pt.resumed) {
			if stripped, keys, ok := deferKeys(text); ok {
				u.held = []heldItem{{text: append([]byte(nil), text...), offset: off, cls: cls, raw: raw, sess: p.q.sessions()}}
				u.stripped, u.heldKeys = stripped, keys
				return nil
			}
		}
	case u.keys != nil && cls.kind != kindData:
		if err := p.queueKeys(u); err != nil {
			return err
		}
	}
	return p.add(u, text, off, cls, raw, -1)
}

// unhold adds the statements held back, the CREATE TABLE without its plain
// keys when rows follow (and keys are not kept).
func (p *producer) unhold(u *unit, rows bool) error {
	held := u.held
	u.held = nil
	for i, h := range held {
		text := h.text
		if i == 0 && rows {
			// The CREATE: an earlier run may have made it without the
			// keys, whatever this one does.
			earlier := u.ordinal < u.skip
			if !p.c.KeepIndexes {
				text = u.stripped
			}
			if !p.c.KeepIndexes || earlier {
				u.keys, u.keysOff, u.keysSess = u.heldKeys, h.offset, h.sess
			}
		}
		if err := p.add(u, text, h.offset, h.cls, h.raw, h.sess); err != nil {
			return err
		}
	}
	u.stripped, u.heldKeys = nil, nil
	return nil
}

// queueKeys adds the ALTER TABLE adding u's deferred keys after the rows
// read so far. An earlier run that recorded the statements up to the
// next one done (u.skip) has added them.
func (p *producer) queueKeys(u *unit) error {
	k := u.keys
	u.keys = nil
	if u.skipAll || u.ordinal <= u.skip {
		return nil
	}
	text := []byte(k.alter(nil))
	return p.q.push(u, text, item{n: len(text), offset: u.keysOff, sess: u.keysSess,
		cls: class{kind: kindTable, table: u.table}, ordinal: u.ordinal - 1, keys: k})
}

// settle adds what the producer still holds of u, whose statements end.
func (p *producer) settle(u *unit) error {
	if u.held != nil {
		if err := p.unhold(u, false); err != nil {
			return err
		}
	}
	if u.keys != nil {
		return p.queueKeys(u)
	}
	return nil
}

// global runs a statement that must see everything before it finished and
// finish before anything after it starts, on main.
func (p *producer) global(ctx context.Context, text []byte, off int64, cls class) error {
	sess, err := p.q.drained()
	if err != nil {
		return err
	}
	if p.pt.globalDone(off) {
		return nil
	}
	if err := replay(ctx, p.main, sess, &p.mainSess); err != nil {
		return err
	}
	serr := func(err error) error {
		return &StatementError{Table: cls.table, Offset: off, Text: snippet(text), Err: err}
	}
	if p.pt.resumed || p.c.Force {
		if err := dropObject(ctx, p.main, cls); err != nil {
			return serr(err)
		}
	}
	if _, err := p.main.ExecContext(ctx, "START TRANSACTION"); err != nil {
		return serr(err)
	}
	if _, err := p.main.ExecContext(ctx, b2s(text)); err != nil {
		p.main.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return serr(err)
	}
	if err := record(ctx, p.main, globalKey(off), "done", 0, 0); err != nil {
		return err
	}
	if _, err := p.main.ExecContext(ctx, "COMMIT"); err != nil {
		return serr(err)
	}
	n := p.tally.statement(0, 0)
	if p.hooks.afterStatement != nil {
		p.hooks.afterStatement(n)
	}
	return ctx.Err()
}
