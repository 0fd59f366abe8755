package lagen

import (
	"math"
	"math/rand/v2"
)

// Time range of the generated history (Unix seconds, UTC).
const (
	epochStart = 1546300800 // 2019-01-01
	epochEnd   = 1751241600 // 2025-06-30
)

// contactBase puts contacts in the user id namespace after the agents, so a
// contact and an agent never share an id.
const contactBase = 1 << 30

// plan holds the row counts derived from a Config and the id namespaces.
type plan struct {
	seed uint64
	size int64

	agents, depts            int64
	contacts, convs, files   int64
	mails, logs              int64
	pageVisits, browserVisit int64
	maxBlob                  int
	target                   int64 // planned data bytes of the families

	user, conv, group, msg, dept, file, mail, auth, rule, widget, misc ids
	convShape                                                          *stream
	fileShape                                                          *stream
}

// family is a set of tables whose row counts follow one unit (a
// conversation, a file...) and that share a part of the total size.
type family struct {
	name  string
	share float64 // of Config.Size
	disk  float64 // bytes on disk per data byte
	min   int64   // fewest units, whatever the size
	units func(p *plan) *int64
}

// The shares are of the footprint on disk (information_schema data_length
// plus index_length); disk is that footprint over the data bytes, measured
// on MariaDB 10.11 (random CHAR(8) keys leave InnoDB pages part empty).
var families = []family{
	{"files", 0.35, 1.17, 6, func(p *plan) *int64 { return &p.files }},
	{"conversations", 0.28, 2.1, 20, func(p *plan) *int64 { return &p.convs }},
	{"contacts", 0.02, 3.5, 20, func(p *plan) *int64 { return &p.contacts }},
	{"mails", 0.05, 2.0, 10, func(p *plan) *int64 { return &p.mails }},
	{"logs", 0.14, 1.23, 50, func(p *plan) *int64 { return &p.logs }},
	{"pagevisits", 0.10, 1.85, 50, func(p *plan) *int64 { return &p.pageVisits }},
	{"browservisits", 0.06, 1.7, 30, func(p *plan) *int64 { return &p.browserVisit }},
}

// newPlan derives the counts. Each family's unit size is measured by
// generating its first units into a throw-away buffer (deterministic, so the
// counts are too), then the unit count is its share of Size over that.
func newPlan(cfg Config) *plan {
	p := &plan{seed: cfg.Seed, size: cfg.Size}
	p.user = newIDs(cfg.Seed, "user")
	p.conv = newIDs(cfg.Seed, "conversation")
	p.group = newIDs(cfg.Seed, "messagegroup")
	p.msg = newIDs(cfg.Seed, "message")
	p.dept = newIDs(cfg.Seed, "department")
	p.file = newIDs(cfg.Seed, "file")
	p.mail = newIDs(cfg.Seed, "mail")
	p.auth = newIDs(cfg.Seed, "authuser")
	p.rule = newIDs(cfg.Seed, "rule")
	p.widget = newIDs(cfg.Seed, "widget")
	p.misc = newIDs(cfg.Seed, "misc")
	p.convShape = newStream(cfg.Seed, "shape/conversation")
	p.fileShape = newStream(cfg.Seed, "shape/file")

	mib := cfg.Size >> 20
	p.agents = clamp(4+mib/32, 4, 200)
	p.depts = clamp(3+mib/256, 3, 12)
	p.maxBlob = int(clamp(int64(float64(cfg.Size)*0.35/6), 16<<10, 1<<20))

	// Provisional counts for the measuring run: references only.
	for _, f := range families {
		*f.units(p) = 1000
	}
	counts := make([]int64, len(families))
	for i, f := range families {
		const sample = 64
		var w rows
		for _, t := range schema {
			if t.family != f.name {
				continue
			}
			s := contentStream(cfg.Seed, t.name)
			for u := int64(0); u < sample; u++ {
				t.gen(p, s.at(u), &w, u)
				w.buf = w.buf[:0]
			}
		}
		perUnit := float64(w.data) / sample
		target := float64(cfg.Size) * f.share / f.disk
		p.target += int64(target)
		n := int64(target / max(perUnit, 1))
		counts[i] = max(n, f.min)
	}
	for i, f := range families {
		*f.units(p) = counts[i]
	}
	return p
}

func clamp(v, lo, hi int64) int64 { return min(max(v, lo), hi) }

// convInfo is the shape of one conversation, shared by every table of the
// conversations family.
type convInfo struct {
	channel  byte // E mail, C chat, F Facebook, T Twitter, W form, P call
	status   byte
	open     bool
	groups   int
	msgs     [8]int
	gtype    [8]byte
	agents   int
	contact  int64 // owner contact index
	created  int64
	duration int64
}

func (p *plan) conversation(c int64) convInfo {
	var pcg rand.PCG
	pcg.Seed(p.convShape.key, mix64(uint64(c)^p.convShape.key))
	r := rand.New(&pcg)
	var ci convInfo
	switch x := r.IntN(100); {
	case x < 45:
		ci.channel = 'E'
	case x < 80:
		ci.channel = 'C'
	case x < 85:
		ci.channel = 'F'
	case x < 88:
		ci.channel = 'T'
	case x < 95:
		ci.channel = 'W'
	default:
		ci.channel = 'P'
	}
	ci.open = r.IntN(100) < 15
	if ci.open {
		ci.status = "NCAP"[r.IntN(4)]
	} else {
		ci.status = "RRRRX"[r.IntN(5)]
	}
	ci.groups = 1 + r.IntN(5)
	for g := 0; g < ci.groups; g++ {
		switch {
		case g == 0 && ci.channel == 'C':
			ci.gtype[g] = 'C'
			ci.msgs[g] = 3 + r.IntN(28)
		case r.IntN(8) == 0:
			ci.gtype[g] = 'I' // internal note
			ci.msgs[g] = 1
		case r.IntN(10) == 0:
			ci.gtype[g] = 'S' // system
			ci.msgs[g] = 1
		default:
			ci.gtype[g] = 'M'
			ci.msgs[g] = 1 + r.IntN(3) // body, maybe attachments
		}
	}
	ci.agents = r.IntN(3)
	ci.contact = r.Int64N(p.contacts)
	span := int64(epochEnd - epochStart - 30*86400)
	ci.created = epochStart + span*c/max(p.convs, 1) + r.Int64N(3600)
	ci.duration = 60 + r.Int64N(5*86400)
	return ci
}

// fileInfo is the shape of one attachment, shared by qu_g_files and
// qu_g_filecontents.
type fileInfo struct {
	size  int    // content bytes; -1 for NULL content
	kind  byte   // R random (images, archives), T text-like (compressible)
	mime  string // file type
	ext   string
	rseed uint64 // content seed
}

func (p *plan) attachment(f int64) fileInfo {
	var pcg rand.PCG
	pcg.Seed(p.fileShape.key, mix64(uint64(f)^p.fileShape.key))
	r := rand.New(&pcg)
	fi := fileInfo{rseed: r.Uint64()}
	// Log-uniform from 2 KiB to maxBlob.
	lo, hi := 2048.0, float64(p.maxBlob)
	fi.size = int(lo * math.Pow(hi/lo, r.Float64()))
	switch x := r.IntN(100); {
	case f == 0 || x < 3:
		fi.size = -1 // NULL content
	case f == 1 || x < 6:
		fi.size = 0 // empty content
	}
	switch r.IntN(10) {
	case 0, 1, 2:
		fi.kind, fi.mime, fi.ext = 'R', "image/jpeg", ".jpg"
	case 3:
		fi.kind, fi.mime, fi.ext = 'R', "image/png", ".png"
	case 4:
		fi.kind, fi.mime, fi.ext = 'R', "application/zip", ".zip"
	case 5, 6:
		fi.kind, fi.mime, fi.ext = 'T', "application/pdf", ".pdf"
	case 7:
		fi.kind, fi.mime, fi.ext = 'T', "text/plain", ".txt"
	case 8:
		fi.kind, fi.mime, fi.ext = 'T', "text/csv", ".csv"
	default:
		fi.kind, fi.mime, fi.ext = 'T', "text/html", ".html"
	}
	return fi
}
