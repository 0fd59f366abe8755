package lagen

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// table is one generated table: its DDL and a function that appends the
// rows of one unit (a conversation, a file, a log line...) to w.
type table struct {
	name    string
	engine  string // InnoDB unless said otherwise
	ignored bool   // on lamigrate's default ignore list
	family  string // size family; "" for tables with a fixed row count
	count   func(p *plan) int64
	chunk   int64 // units per loading job
	ddl     string
	gen     func(p *plan, r *rand.Rand, w *rows, u int64)
}

func (t *table) units(p *plan) int64 {
	if t.family == "" {
		return t.count(p)
	}
	for _, f := range families {
		if f.name == t.family {
			return *f.units(p)
		}
	}
	panic("lagen: unknown family " + t.family)
}

func fixed(n int64) func(*plan) int64 { return func(*plan) int64 { return n } }

func when(r *rand.Rand) int64 { return epochStart + r.Int64N(epochEnd-epochStart) }

const mb4 = " CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci COMMENT 'utf8mb4: may hold emoji'"

var schema = []*table{
	// --- versions and accounts ---------------------------------------------
	{
		name: "qu_g_versions", count: fixed(int64(len(versions))),
		ddl: `versionid CHAR(8) NOT NULL,
  name VARCHAR(40) NOT NULL,
  application VARCHAR(40) NOT NULL,
  done DATETIME NULL,
  PRIMARY KEY (versionid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			v := versions[u]
			w.begin()
			w.str(p.misc.id(1000 + u))
			w.str(v.name)
			w.str(v.app)
			w.datetimeN(v.done, v.done < 0)
			w.end()
		},
	},
	{
		name: "qu_g_authusers", count: func(p *plan) int64 { return p.agents },
		ddl: `authid CHAR(8) NOT NULL,
  username VARCHAR(60) NOT NULL,
  rpassword VARCHAR(60) NOT NULL,
  firstname VARCHAR(100) NOT NULL DEFAULT '',
  lastname VARCHAR(100) NOT NULL DEFAULT '',
  notificationemail VARCHAR(255) NOT NULL DEFAULT '',
  ip VARCHAR(39) NULL,
  lang VARCHAR(10) NOT NULL DEFAULT 'en-US',
  authtoken CHAR(32) NULL,
  twofactor_secret VARCHAR(64) NULL,
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (authid),
  UNIQUE KEY username (username)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			first, last := personName(r)
			w.begin()
			w.str(p.auth.id(u))
			w.str("agent" + strconv.FormatInt(u, 10) + "@support.example.com")
			w.str("$2y$10$" + base64ish(r, 53))
			w.str(first)
			w.str(last)
			w.str(map[bool]string{true: "", false: "notify" + strconv.FormatInt(u, 10) + "@example.com"}[chance(r, 50)])
			w.strN(ipv4(r), chance(r, 20))
			w.str(pick(r, []string{"en-US", "cs", "de", "ja"}))
			w.strN(hexString(r, 32), chance(r, 30))
			w.strN(base64ish(r, 32), chance(r, 80))
			w.datetime(when(r))
			w.end()
		},
	},
	{
		name: "qu_g_users", count: func(p *plan) int64 { return p.agents },
		ddl: `userid CHAR(8) NOT NULL,
  accountid CHAR(8) NOT NULL,
  authid CHAR(8) NOT NULL,
  roleid CHAR(8) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'A',
  dateinserted DATETIME NOT NULL,
  datedeleted DATETIME NULL,
  PRIMARY KEY (userid),
  KEY authid (authid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(p.user.id(u))
			w.str("default1")
			w.str(p.auth.id(u))
			w.str(pick(r, []string{"la_ownr", "la_admn", "la_agnt", "la_agnt", "la_agnt"}))
			deleted := u > 2 && chance(r, 10)
			w.str(map[bool]string{true: "D", false: "A"}[deleted])
			t := when(r)
			w.datetime(t)
			w.datetimeN(t+86400, !deleted)
			w.end()
		},
	},
	{
		name: "qu_la_users", count: func(p *plan) int64 { return p.agents },
		ddl: `userid CHAR(8) NOT NULL,
  rtype CHAR(1) NOT NULL DEFAULT 'A',
  online_status CHAR(1) NOT NULL DEFAULT 'F',
  avatar_url VARCHAR(255) NULL,
  signature TEXT NULL,
  chat_limit INT UNSIGNED NOT NULL DEFAULT 0,
  gender CHAR(1) NULL,
  last_activity DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (userid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(p.user.id(u))
			w.str(map[bool]string{true: "O", false: "A"}[u == 0])
			w.str(string("NFFA"[r.IntN(4)]))
			w.strN("https://example.com/avatars/"+hexString(r, 16)+".png", chance(r, 40))
			if chance(r, 30) {
				w.str("")
			} else {
				w.strN(text(r, 60), chance(r, 30))
			}
			w.uint(uint64(r.IntN(10)))
			w.strN(string("MF"[r.IntN(2)]), chance(r, 50))
			w.datetime(map[bool]int64{true: 0, false: when(r)}[chance(r, 15)])
			w.end()
		},
	},
	{
		name: "qu_la_departments", count: func(p *plan) int64 { return p.depts },
		ddl: `departmentid CHAR(8) NOT NULL,
  name VARCHAR(100) NOT NULL,
  description TEXT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'A',
  online_status CHAR(1) NOT NULL DEFAULT 'F',
  mail_address VARCHAR(255) NULL,
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (departmentid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			names := []string{"Podpora", "Vertrieb", "サポート", "Billing", "Sales", "Technická podpora", "Kundendienst", "営業部", "VIP", "Partners", "Jobs", "Press"}
			w.begin()
			w.str(p.dept.id(u))
			w.str(names[u%int64(len(names))])
			w.strN(text(r, 80), chance(r, 30))
			w.str(map[bool]string{true: "I", false: "A"}[u > 1 && chance(r, 20)])
			w.str(string("NF"[r.IntN(2)]))
			w.strN("dept"+strconv.FormatInt(u, 10)+"@support.example.com", chance(r, 40))
			w.datetime(when(r))
			w.end()
		},
	},
	{
		name: "qu_la_user_departments", count: func(p *plan) int64 { return p.agents },
		ddl: `userid CHAR(8) NOT NULL,
  departmentid CHAR(8) NOT NULL,
  online_status CHAR(1) NOT NULL DEFAULT 'N',
  PRIMARY KEY (userid, departmentid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			n := 1 + r.Int64N(p.depts)
			start := r.Int64N(p.depts)
			for k := int64(0); k < n; k++ {
				w.begin()
				w.str(p.user.id(u))
				w.str(p.dept.id((start + k) % p.depts))
				w.str(string("NF"[r.IntN(2)]))
				w.end()
			}
		},
	},
	{
		name: "qu_g_settings", count: fixed(int64(len(settings))),
		ddl: `settingid INT UNSIGNED NOT NULL AUTO_INCREMENT,
  name VARCHAR(100) NOT NULL,
  value TEXT NULL,
  accountid CHAR(8) NULL,
  PRIMARY KEY (settingid),
  UNIQUE KEY name_account (name, accountid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			s := settings[u]
			w.begin()
			w.uint(uint64(u + 1))
			w.strN(s[0], false)
			w.strN(s[1], s[1] == "<NULL>")
			w.strN("default1", s[2] == "")
			w.end()
		},
	},

	// --- external sources (the isolate profile) -----------------------------
	{
		name: "qu_la_mail_accounts", count: fixed(int64(len(mailAccounts))),
		ddl: `mailaccountid CHAR(8) NOT NULL,
  accountname VARCHAR(255) NOT NULL,
  email VARCHAR(255) NOT NULL,
  status CHAR(1) NOT NULL DEFAULT 'A',
  fetch_type CHAR(1) NOT NULL DEFAULT 'I',
  host VARCHAR(255) NOT NULL DEFAULT '',
  port SMALLINT UNSIGNED NULL,
  username VARCHAR(255) NOT NULL DEFAULT '',
  password TEXT NULL,
  use_ssl CHAR(1) NOT NULL DEFAULT 'Y',
  departmentid CHAR(8) NULL,
  last_fetch DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  last_error TEXT NULL,
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (mailaccountid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			a := mailAccounts[u]
			w.begin()
			w.str(p.misc.id(2000 + u))
			w.str(a.name)
			w.str(a.email)
			w.str(string(a.status))
			w.str(string(a.fetch))
			host, port := "", int64(0)
			switch a.fetch {
			case 'I':
				host, port = "imap.example.com", 993
			case '3':
				host, port = "pop3.example.com", 995
			}
			w.str(host)
			if port == 0 {
				w.null()
			} else {
				w.uint(uint64(port))
			}
			w.str(map[bool]string{true: a.email, false: ""}[host != ""])
			w.strN(base64ish(r, 44), host == "")
			w.str(map[bool]string{true: "Y", false: "N"}[port != 0])
			w.strN(p.dept.id(u%p.depts), u%3 == 2)
			w.datetime(map[bool]int64{true: 0, false: when(r)}[a.status != 'A'])
			w.strN("Connection timed out", a.status != 'S')
			w.datetime(when(r))
			w.end()
		},
	},
	{
		name: "qu_la_facebook_pages", count: fixed(3),
		ddl: `pageid VARCHAR(32) NOT NULL,
  name VARCHAR(255) NOT NULL,
  access_token TEXT NOT NULL,
  status CHAR(1) NOT NULL DEFAULT 'A',
  departmentid CHAR(8) NULL,
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (pageid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(strconv.FormatInt(100000000000000+r.Int64N(900000000000000), 10))
			w.str([]string{"Example Support", "Příklad s.r.o.", "Beispiel GmbH"}[u])
			w.str("EAAB" + base64ish(r, 180))
			w.str([]string{"A", "A", "I"}[u])
			w.str(p.dept.id(0))
			w.datetime(when(r))
			w.end()
		},
	},
	{
		name: "qu_la_twitter_accounts", count: fixed(2),
		ddl: `accountid VARCHAR(32) NOT NULL,
  screen_name VARCHAR(64) NOT NULL,
  oauth_token VARCHAR(255) NOT NULL,
  oauth_token_secret VARCHAR(255) NOT NULL,
  status CHAR(1) NOT NULL DEFAULT 'A',
  last_tweet_id BIGINT UNSIGNED NULL,
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (accountid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(strconv.FormatInt(1000000+r.Int64N(1<<40), 10))
			w.str([]string{"example_help", "priklad_cz"}[u])
			w.str(base64ish(r, 50))
			w.str(base64ish(r, 45))
			w.str([]string{"A", "I"}[u])
			if u == 0 {
				w.uint(1700000000000000000 + r.Uint64N(1<<60))
			} else {
				w.null()
			}
			w.datetime(when(r))
			w.end()
		},
	},
	{
		name: "qu_la_contactwidgets", count: fixed(8),
		ddl: `contactwidgetid CHAR(8) NOT NULL,
  name VARCHAR(255) NOT NULL,
  rtype CHAR(1) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'A',
  status CHAR(1) NOT NULL DEFAULT 'N',
  departmentid CHAR(8) NULL,
  properties TEXT NULL,
  dateinserted DATETIME NOT NULL,
  datechanged DATETIME NULL,
  PRIMARY KEY (contactwidgetid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			names := []string{"Chat button", "Kontaktní formulář", "Kontaktformular", "Knowledge base", "Call button", "チャット", "Old button", "Test form"}
			w.begin()
			w.str(p.widget.id(u))
			w.str(names[u])
			w.str(string("CFFKPCCF"[u]))
			w.str(string("AAAAAIII"[u]))
			w.str("N")
			w.strN(p.dept.id(u%p.depts), u == 3)
			w.str(`{"position":"bottom-right","color":"#` + hexString(r, 6) + `","text":"` + pick(r, []string{"Chat with us", "Napište nám", "Schreiben Sie uns", "お問い合わせ"}) + `"}`)
			t := when(r)
			w.datetime(t)
			w.datetimeN(t+3600, chance(r, 50))
			w.end()
		},
	},
	{
		name: "qu_la_contactwidget_attributes", count: fixed(8),
		ddl: `contactwidgetid CHAR(8) NOT NULL,
  name VARCHAR(100) NOT NULL,
  value TEXT NULL,
  PRIMARY KEY (contactwidgetid, name)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			for _, k := range []string{"width", "height", "online_text", "offline_text"} {
				w.begin()
				w.str(p.widget.id(u))
				w.str(k)
				switch k {
				case "width", "height":
					w.str(strconv.Itoa(100 + r.IntN(400)))
				default:
					w.strN(chatLine(r, false), chance(r, 25))
				}
				w.end()
			}
		},
	},
	{
		name: "qu_g_rules", count: fixed(14),
		ddl: `ruleid CHAR(8) NOT NULL,
  rtype CHAR(1) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'E',
  name VARCHAR(255) NOT NULL,
  rorder INT NOT NULL DEFAULT 0,
  conditions TEXT NULL,
  actions TEXT NULL,
  dateinserted DATETIME NOT NULL,
  datechanged DATETIME NULL,
  PRIMARY KEY (ruleid),
  KEY rtype (rtype, rstatus)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			// I = chat invitation, A = automation, S = SLA, M = mail
			w.begin()
			w.str(p.rule.id(u))
			w.str(string("IIIIIAAAASSMMA"[u]))
			w.str(string("EEEDDEEDEEEEDE"[u]))
			w.str(pick(r, []string{"Pozvánka na chat", "Einladung", "Proactive invitation", "VIP routing", "自動返信", "Spam filter"}) + " " + strconv.FormatInt(u, 10))
			w.int(u - 3)
			w.str(`[{"field":"url","op":"contains","value":"` + pick(r, pages) + `"}]`)
			w.strN(`[{"action":"invite","delay":`+strconv.Itoa(r.IntN(60))+`}]`, chance(r, 10))
			t := when(r)
			w.datetime(t)
			w.datetimeN(t+600, chance(r, 50))
			w.end()
		},
	},
	{
		name: "qu_g_queued_jobs", ignored: true, count: func(p *plan) int64 { return 60 + p.agents },
		ddl: `queuedjobid INT UNSIGNED NOT NULL AUTO_INCREMENT,
  classname VARCHAR(255) NOT NULL,
  params TEXT NULL,
  status CHAR(1) NOT NULL DEFAULT 'N',
  priority TINYINT NOT NULL DEFAULT 0,
  errors INT UNSIGNED NOT NULL DEFAULT 0,
  dateinserted DATETIME NOT NULL,
  datestarted DATETIME NULL,
  datefinished DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (queuedjobid),
  KEY status (status)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			status := byte('F')
			if u%20 == 7 { // a few unfinished: N new, R running
				status = "NRN"[(u/20)%3]
			}
			w.begin()
			w.uint(uint64(u + 1))
			w.str(pick(r, []string{"La_Mail_FetchJob", "La_Conversation_AutoResolve", "Gpf_Mail_Send", "La_Sla_Recalc"}))
			w.strN(`{"id":"`+hexString(r, 8)+`"}`, chance(r, 20))
			w.str(string(status))
			w.int(int64(r.IntN(5) - 2))
			w.uint(uint64(r.IntN(2)))
			t := when(r)
			w.datetime(t)
			w.datetimeN(t+5, status == 'N')
			w.datetime(map[bool]int64{true: t + 60, false: 0}[status == 'F'])
			w.end()
		},
	},

	// --- contacts and conversations -----------------------------------------
	{
		name: "qu_la_contacts", family: "contacts", chunk: 5000,
		ddl: `contactid CHAR(8) NOT NULL,
  firstname VARCHAR(100) NOT NULL DEFAULT '',
  lastname VARCHAR(100) NOT NULL DEFAULT '',
  system_name VARCHAR(255) NULL,
  emails VARCHAR(255) NOT NULL DEFAULT '',
  phone VARCHAR(40) NULL,
  company VARCHAR(255) NOT NULL DEFAULT '',
  city VARCHAR(100) NOT NULL DEFAULT '',
  countrycode CHAR(2) NULL,
  latitude FLOAT NULL,
  longitude FLOAT NULL,
  score DECIMAL(10,2) NOT NULL DEFAULT 0.00,
  note TEXT NULL,
  rtype CHAR(1) NOT NULL DEFAULT 'V',
  rstatus CHAR(1) NOT NULL DEFAULT 'V',
  lang CHAR(5) NULL,
  dateinserted DATETIME NOT NULL,
  datechanged DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (contactid),
  KEY emails (emails),
  KEY dateinserted (dateinserted)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			first, last := personName(r)
			visitor := chance(r, 30)
			w.begin()
			w.str(p.user.id(contactBase + u))
			if visitor {
				w.str("")
				w.str("")
				w.str("Visitor " + strconv.FormatInt(u, 10))
				w.str("")
			} else {
				w.str(first)
				w.str(last)
				w.null()
				w.str(email(r, u))
			}
			switch r.IntN(3) {
			case 0:
				w.null()
			case 1:
				w.str("")
			default:
				w.str("+420 " + strconv.Itoa(600000000+r.IntN(99999999)))
			}
			w.str(pick(r, companies))
			w.str(pick(r, cities))
			w.strN(pick(r, countries), chance(r, 10))
			if chance(r, 40) {
				w.null()
				w.null()
			} else {
				w.float32(float32(r.Float64()*180 - 90))
				w.float32(float32(r.Float64()*360 - 180))
			}
			w.decimal(r.Int64N(2000000)-100000, 2)
			if chance(r, 70) {
				w.null()
			} else {
				w.str(text(r, 40+r.IntN(200)))
			}
			w.str(map[bool]string{true: "V", false: "R"}[visitor])
			w.str(string("VVVNB"[r.IntN(5)]))
			w.strN(pick(r, []string{"en-US", "cs", "de", "ja"}), chance(r, 20))
			t := when(r)
			w.datetime(t)
			w.datetime(map[bool]int64{true: 0, false: t + r.Int64N(86400*30)}[chance(r, 40)])
			w.end()
		},
	},
	{
		name: "qu_la_conversations", family: "conversations", chunk: 1000,
		ddl: `conversationid CHAR(8) NOT NULL,
  code VARCHAR(20) NOT NULL,
  ownercontactid CHAR(8) NOT NULL,
  departmentid CHAR(8) NULL,
  agentid CHAR(8) NULL,
  channel_type CHAR(1) NOT NULL,
  rstatus CHAR(1) NOT NULL,
  priority TINYINT UNSIGNED NOT NULL DEFAULT 0,
  subject VARCHAR(255) NOT NULL DEFAULT '',
  preview VARCHAR(255) NULL,
  tags VARCHAR(255) NOT NULL DEFAULT '',
  datecreated DATETIME NOT NULL,
  datechanged DATETIME NOT NULL,
  datefinished DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  datedue DATETIME NULL,
  last_activity TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  messages_count INT UNSIGNED NOT NULL DEFAULT 0,
  sla_seconds INT NULL,
  cost DECIMAL(12,4) NOT NULL DEFAULT 0.0000,
  rating DECIMAL(3,1) NULL,
  PRIMARY KEY (conversationid),
  UNIQUE KEY code (code),
  KEY ownercontactid (ownercontactid),
  KEY agentid (agentid),
  KEY datecreated (datecreated)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			ci := p.conversation(u)
			n := 0
			for g := 0; g < ci.groups; g++ {
				n += ci.msgs[g]
			}
			w.begin()
			w.str(p.conv.id(u))
			code := strings.ToUpper(p.conv.id(u))
			w.str(code[:3] + "-" + code[3:6] + "-" + strconv.FormatInt(u, 10))
			w.str(p.user.id(contactBase + ci.contact))
			w.strN(p.dept.id(r.Int64N(p.depts)), chance(r, 10))
			w.strN(p.user.id(r.Int64N(p.agents)), ci.agents == 0)
			w.str(string(ci.channel))
			w.str(string(ci.status))
			w.uint(uint64(r.IntN(3)))
			if ci.channel == 'C' && chance(r, 50) {
				w.str("")
			} else {
				w.str(clip(text(r, 20+r.IntN(60)), 255))
			}
			w.strN(clip(text(r, 40+r.IntN(100)), 255), chance(r, 5))
			w.str(pick(r, []string{"", "", "vip", "billing,urgent", "bug", "dotaz"}))
			w.datetime(ci.created)
			end := ci.created + ci.duration
			w.datetime(end)
			w.datetime(map[bool]int64{true: 0, false: end}[ci.open])
			w.datetimeN(ci.created+86400, !chance(r, 20))
			w.datetime(end) // TIMESTAMP
			w.uint(uint64(n))
			if chance(r, 50) {
				w.null()
			} else {
				w.int(r.Int64N(200000) - 50000)
			}
			w.decimal(r.Int64N(10000000), 4)
			if chance(r, 70) {
				w.null()
			} else {
				w.decimal(int64(r.IntN(51)), 1)
			}
			w.end()
		},
	},
	{
		name: "qu_la_message_groups", family: "conversations", chunk: 1000,
		ddl: `messagegroupid CHAR(8) NOT NULL,
  conversationid CHAR(8) NOT NULL,
  rtype CHAR(1) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'C',
  userid CHAR(8) NULL,
  datecreated DATETIME NOT NULL,
  datefinished DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  ip VARCHAR(39) NOT NULL DEFAULT '',
  user_agent VARCHAR(255) NULL,
  messages_count INT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (messagegroupid),
  KEY conversationid (conversationid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			ci := p.conversation(u)
			for g := 0; g < ci.groups; g++ {
				t := ci.created + ci.duration*int64(g)/int64(ci.groups)
				fromContact := g == 0 || chance(r, 40)
				w.begin()
				w.str(p.group.id(u*8 + int64(g)))
				w.str(p.conv.id(u))
				w.str(string(ci.gtype[g]))
				open := ci.open && g == ci.groups-1
				w.str(map[bool]string{true: "P", false: "C"}[open])
				switch {
				case ci.gtype[g] == 'S':
					w.null()
				case fromContact:
					w.str(p.user.id(contactBase + ci.contact))
				default:
					w.str(p.user.id(r.Int64N(p.agents)))
				}
				w.datetime(t)
				w.datetime(map[bool]int64{true: 0, false: t + 120}[open])
				if fromContact && ci.channel == 'C' {
					w.str(ip(r))
					w.str(pick(r, userAgents))
				} else {
					w.str("")
					w.null()
				}
				w.uint(uint64(ci.msgs[g]))
				w.end()
			}
		},
	},
	{
		name: "qu_la_messages", family: "conversations", chunk: 1000,
		ddl: `messageid CHAR(8) NOT NULL,
  messagegroupid CHAR(8) NOT NULL,
  rtype CHAR(1) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'D',
  format CHAR(1) NOT NULL DEFAULT 'T',
  userid CHAR(8) NULL,
  fileid CHAR(8) NULL,
  datecreated DATETIME NOT NULL,
  message MEDIUMTEXT` + mb4 + ` NULL,
  PRIMARY KEY (messageid),
  KEY messagegroupid (messagegroupid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			ci := p.conversation(u)
			for g := 0; g < ci.groups; g++ {
				t := ci.created + ci.duration*int64(g)/int64(ci.groups)
				for m := 0; m < ci.msgs[g]; m++ {
					w.begin()
					w.str(p.msg.id((u*8+int64(g))*32 + int64(m)))
					w.str(p.group.id(u*8 + int64(g)))
					rtype, format := byte('M'), byte('T')
					var body string
					null := false
					fileid := ""
					switch gt := ci.gtype[g]; {
					case gt == 'S':
						rtype = 'S'
						switch r.IntN(3) {
						case 0:
							null = true
						case 1:
							body = ""
						default:
							body = "Conversation transferred to department " + p.dept.id(r.Int64N(p.depts))
						}
					case gt == 'M' && m > 0:
						rtype = 'F'
						fileid = p.file.id(r.Int64N(p.files))
						body = pick(r, []string{"faktura.pdf", "Rechnung März.pdf", "写真.jpg", "screenshot.png", "log's.txt"})
					case gt == 'M':
						format = 'H'
						body = html(r, 400+r.IntN(5000), true)
					case gt == 'I':
						rtype = 'N'
						body = text(r, 30+r.IntN(200))
					default:
						body = chatLine(r, true)
					}
					w.str(string(rtype))
					w.str(string("DDDR"[r.IntN(4)]))
					w.str(string(format))
					if rtype == 'S' {
						w.null()
					} else if m%2 == 0 {
						w.str(p.user.id(contactBase + ci.contact))
					} else {
						w.str(p.user.id(r.Int64N(p.agents)))
					}
					w.strN(fileid, fileid == "")
					w.datetime(t + int64(m)*int64(5+r.IntN(60)))
					w.strN(body, null)
					w.end()
				}
			}
		},
	},
	{
		name: "qu_la_conversation_users", family: "conversations", chunk: 1000,
		ddl: `conversationid CHAR(8) NOT NULL,
  userid CHAR(8) NOT NULL,
  rtype CHAR(1) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'A',
  datejoined DATETIME NOT NULL,
  dateleft DATETIME NULL,
  PRIMARY KEY (conversationid, userid),
  KEY userid (userid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			ci := p.conversation(u)
			w.begin()
			w.str(p.conv.id(u))
			w.str(p.user.id(contactBase + ci.contact))
			w.str("O")
			w.str("A")
			w.datetime(ci.created)
			w.null()
			w.end()
			if ci.agents == 0 {
				return
			}
			a := r.Int64N(p.agents)
			for k := 0; k < ci.agents; k++ {
				w.begin()
				w.str(p.conv.id(u))
				w.str(p.user.id((a + int64(k)) % p.agents))
				w.str("A")
				left := chance(r, 50)
				w.str(map[bool]string{true: "L", false: "A"}[left])
				w.datetime(ci.created + 60)
				w.datetimeN(ci.created+ci.duration, !left)
				w.end()
			}
		},
	},
	{
		name: "qu_la_conversations_search", ignored: true, engine: "MyISAM", family: "conversations", chunk: 1000,
		ddl: `conversationid CHAR(8) NOT NULL,
  content TEXT NOT NULL,
  PRIMARY KEY (conversationid),
  FULLTEXT KEY content (content)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(p.conv.id(u))
			w.str(text(r, 80+r.IntN(120)))
			w.end()
		},
	},
	{
		name: "qu_la_message_drafts", ignored: true, count: func(p *plan) int64 { return 10 + p.agents },
		ddl: `draftid CHAR(8) NOT NULL,
  conversationid CHAR(8) NOT NULL,
  userid CHAR(8) NOT NULL,
  message MEDIUMTEXT NULL,
  datechanged DATETIME NOT NULL,
  PRIMARY KEY (draftid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(p.misc.id(3000 + u))
			w.str(p.conv.id(r.Int64N(p.convs)))
			w.str(p.user.id(r.Int64N(p.agents)))
			w.strN(text(r, 20+r.IntN(300)), chance(r, 10))
			w.datetime(when(r))
			w.end()
		},
	},

	// --- files (attachments) ------------------------------------------------
	{
		name: "qu_g_files", family: "files", chunk: 500,
		ddl: `fileid CHAR(8) NOT NULL,
  filename VARCHAR(255) NOT NULL,
  filesize INT UNSIGNED NOT NULL DEFAULT 0,
  filetype VARCHAR(100) NOT NULL DEFAULT '',
  rtype CHAR(1) NOT NULL DEFAULT 'U',
  downloads INT UNSIGNED NOT NULL DEFAULT 0,
  referenced CHAR(1) NOT NULL DEFAULT 'Y',
  path VARCHAR(255) NOT NULL DEFAULT '',
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (fileid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			fi := p.attachment(u)
			w.begin()
			w.str(p.file.id(u))
			w.str(pick(r, []string{"faktura_č", "Rechnung_März", "写真", "screenshot", "log's", "scan 2024-03"}) + "_" + strconv.FormatInt(u, 10) + fi.ext)
			w.uint(uint64(max(fi.size, 0)))
			w.str(fi.mime)
			w.str(string("UUMM"[r.IntN(4)]))
			w.uint(uint64(r.IntN(20)))
			w.str(string("YYYN"[r.IntN(4)]))
			w.str("")
			w.datetime(when(r))
			w.end()
		},
	},
	{
		name: "qu_g_filecontents", family: "files", chunk: 8,
		ddl: `fileid CHAR(8) NOT NULL,
  contentid INT UNSIGNED NOT NULL DEFAULT 1,
  content LONGBLOB NULL,
  PRIMARY KEY (fileid, contentid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			fi := p.attachment(u)
			w.begin()
			w.str(p.file.id(u))
			w.uint(1)
			w.bytes(content(fi))
			w.end()
		},
	},

	// --- mail -----------------------------------------------------------------
	{
		name: "qu_g_mails", family: "mails", chunk: 1000,
		ddl: `mailid CHAR(8) NOT NULL,
  subject VARCHAR(255) NOT NULL DEFAULT '',
  from_mail VARCHAR(255) NOT NULL,
  recipients TEXT NOT NULL,
  cc TEXT NULL,
  bcc TEXT NULL,
  body MEDIUMTEXT NOT NULL,
  headers TEXT NULL,
  unique_message_id VARCHAR(255) NOT NULL,
  in_reply_to VARCHAR(255) NULL,
  status CHAR(1) NOT NULL DEFAULT 'S',
  hasattachments CHAR(1) NOT NULL DEFAULT 'N',
  size INT UNSIGNED NOT NULL DEFAULT 0,
  conversationid CHAR(8) NULL,
  scheduled DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  delivered DATETIME NULL,
  PRIMARY KEY (mailid),
  KEY conversationid (conversationid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			body := html(r, 300+r.IntN(3000), false)
			w.begin()
			w.str(p.mail.id(u))
			w.str(clip(text(r, 20+r.IntN(50)), 255))
			w.str(email(r, r.Int64N(p.contacts)))
			w.str(email(r, r.Int64N(p.contacts)))
			switch r.IntN(3) {
			case 0:
				w.null()
			case 1:
				w.str("")
			default:
				w.str(email(r, r.Int64N(p.contacts)) + ", " + email(r, r.Int64N(p.contacts)))
			}
			w.strN("", chance(r, 80))
			w.str(body)
			w.str("Received: from mx.example.com\r\nMessage-ID: <" + hexString(r, 24) + "@example.com>\r\nContent-Type: text/html; charset=UTF-8")
			w.str("<" + hexString(r, 24) + "@mail.example.com>")
			w.strN("<"+hexString(r, 24)+"@example.com>", chance(r, 50))
			w.str(string("SSSFQ"[r.IntN(5)]))
			w.str(string("NNY"[r.IntN(3)]))
			w.uint(uint64(len(body)))
			w.strN(p.conv.id(r.Int64N(p.convs)), chance(r, 10))
			t := when(r)
			w.datetime(map[bool]int64{true: t, false: 0}[chance(r, 5)])
			w.datetimeN(t+30, chance(r, 5))
			w.end()
		},
	},
	{
		name: "qu_g_mail_message_sources", ignored: true, count: func(p *plan) int64 { return min(p.mails, 40) },
		ddl: `mailid CHAR(8) NOT NULL,
  source MEDIUMTEXT NOT NULL,
  PRIMARY KEY (mailid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.str(p.mail.id(u))
			w.str("From: " + email(r, u) + "\r\nSubject: " + text(r, 30) + "\r\n\r\n" + text(r, 200+r.IntN(2000)))
			w.end()
		},
	},

	// --- big transient tables (on the ignore list) ----------------------------
	{
		name: "qu_g_logs", ignored: true, family: "logs", chunk: 20000,
		ddl: `logid INT UNSIGNED NOT NULL AUTO_INCREMENT,
  groupid VARCHAR(16) NULL,
  level TINYINT NOT NULL DEFAULT 0,
  created DATETIME NOT NULL,
  filename VARCHAR(255) NOT NULL DEFAULT '',
  line INT UNSIGNED NOT NULL DEFAULT 0,
  message TEXT NOT NULL,
  ip VARCHAR(39) NOT NULL DEFAULT '',
  accountid CHAR(8) NULL,
  userid CHAR(8) NULL,
  PRIMARY KEY (logid),
  KEY created (created)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.uint(uint64(u + 1))
			w.strN(hexString(r, 16), chance(r, 30))
			w.int(int64([]int{10, 20, 20, 30, 40, 50}[r.IntN(6)]))
			w.datetime(epochStart + (epochEnd-epochStart)*u/max(p.logs, 1))
			w.str(pick(r, []string{"/var/www/liveagent/include/La/Mail/Fetch.class.php", "/var/www/liveagent/include/Gpf/Db/Table.class.php", "/var/www/liveagent/scripts/jobs.php", ""}))
			w.uint(uint64(r.IntN(2000)))
			w.str(pick(r, []string{"Fetching mail account ", "Job finished: ", "Rule executed: ", "SMTP error 421 for ", "Session started for ", "Slow query (2.3s): SELECT * FROM qu_la_conversations WHERE conversationid='"}) + hexString(r, 8) + " " + text(r, 40+r.IntN(200)))
			w.str(ip(r))
			w.strN("default1", chance(r, 5))
			w.strN(p.user.id(r.Int64N(p.agents)), chance(r, 40))
			w.end()
		},
	},
	{
		name: "qu_la_page_visits", ignored: true, family: "pagevisits", chunk: 20000,
		ddl: `pagevisitid INT UNSIGNED NOT NULL AUTO_INCREMENT,
  browserid CHAR(32) NOT NULL,
  url VARCHAR(2000) NOT NULL,
  referrer VARCHAR(2000) NOT NULL DEFAULT '',
  title VARCHAR(255) NULL,
  datevisit DATETIME NOT NULL,
  duration DECIMAL(10,3) NULL,
  PRIMARY KEY (pagevisitid),
  KEY browserid (browserid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.uint(uint64(u + 1))
			w.str(browserID(p, r.Int64N(p.browserVisit)))
			w.str("https://www." + pick(r, domains) + pick(r, pages) + "?utm_source=" + hexString(r, 6))
			w.str(pick(r, []string{"", "", "https://www.google.com/", "https://www.seznam.cz/", "https://duckduckgo.com/?q=live+chat+software"}))
			w.strN(pick(r, titles), chance(r, 10))
			w.datetime(epochStart + (epochEnd-epochStart)*u/max(p.pageVisits, 1))
			if chance(r, 20) {
				w.null()
			} else {
				w.decimal(r.Int64N(600000), 3)
			}
			w.end()
		},
	},
	{
		name: "qu_la_browser_visits", ignored: true, family: "browservisits", chunk: 20000,
		ddl: `browservisitid INT UNSIGNED NOT NULL AUTO_INCREMENT,
  browserid CHAR(32) NOT NULL,
  ip VARCHAR(39) NOT NULL DEFAULT '',
  useragent VARCHAR(500) NOT NULL DEFAULT '',
  screen VARCHAR(20) NULL,
  lang VARCHAR(10) NULL,
  countrycode CHAR(2) NULL,
  city VARCHAR(100) NULL,
  datefirstvisit DATETIME NOT NULL,
  datelastvisit DATETIME NOT NULL,
  pagecount INT UNSIGNED NOT NULL DEFAULT 1,
  PRIMARY KEY (browservisitid),
  KEY browserid (browserid)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			w.uint(uint64(u + 1))
			w.str(browserID(p, u))
			w.str(ip(r))
			w.str(pick(r, userAgents))
			w.strN(pick(r, []string{"1920x1080", "1366x768", "390x844", "2560x1440"}), chance(r, 10))
			w.strN(pick(r, []string{"en-US", "cs-CZ", "de-DE", "ja-JP"}), chance(r, 10))
			w.strN(pick(r, countries), chance(r, 20))
			w.strN(pick(r, cities), chance(r, 30))
			t := epochStart + (epochEnd-epochStart)*u/max(p.browserVisit, 1)
			w.datetime(t)
			w.datetime(t + r.Int64N(86400*7))
			w.uint(uint64(1 + r.IntN(40)))
			w.end()
		},
	},

	// --- small transient tables (on the ignore list) -------------------------
	small("qu_g_eventqueues", `eventqueueid CHAR(8) NOT NULL,
  eventname VARCHAR(100) NOT NULL,
  params TEXT NULL,
  status CHAR(1) NOT NULL DEFAULT 'N',
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (eventqueueid)`, 30, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.misc.id(4000 + u))
		w.str(pick(r, []string{"conversation.created", "message.added", "contact.updated"}))
		w.strN(`{"conversationid":"`+p.conv.id(r.Int64N(p.convs))+`"}`, chance(r, 20))
		w.str(string("NPF"[r.IntN(3)]))
		w.datetime(when(r))
	}),
	small("qu_g_eventsubscriptions", `subscriptionid CHAR(8) NOT NULL,
  eventname VARCHAR(100) NOT NULL,
  handler VARCHAR(255) NOT NULL,
  rstatus CHAR(1) NOT NULL DEFAULT 'A',
  PRIMARY KEY (subscriptionid)`, 12, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.misc.id(5000 + u))
		w.str(pick(r, []string{"conversation.created", "message.added", "contact.updated"}))
		w.str("https://hooks.example.com/" + hexString(r, 12))
		w.str(string("AAI"[r.IntN(3)]))
	}),
	small("qu_g_news", `newsid CHAR(8) NOT NULL,
  title VARCHAR(255) NOT NULL,
  content TEXT NULL,
  rtype CHAR(1) NOT NULL DEFAULT 'N',
  dateinserted DATETIME NOT NULL,
  PRIMARY KEY (newsid)`, 10, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.misc.id(6000 + u))
		w.str(clip(text(r, 30), 255))
		w.strN(html(r, 300, false), chance(r, 10))
		w.str(string("NI"[r.IntN(2)]))
		w.datetime(when(r))
	}),
	small("qu_g_usernews", `userid CHAR(8) NOT NULL,
  newsid CHAR(8) NOT NULL,
  isread CHAR(1) NOT NULL DEFAULT 'N',
  PRIMARY KEY (userid, newsid)`, 10, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.user.id(u % p.agents))
		w.str(p.misc.id(6000 + u))
		w.str(string("YN"[r.IntN(2)]))
	}),
	small("qu_g_passwd_requests", `requestid CHAR(8) NOT NULL,
  authid CHAR(8) NOT NULL,
  token CHAR(32) NOT NULL,
  status CHAR(1) NOT NULL DEFAULT 'N',
  valid_to DATETIME NOT NULL,
  PRIMARY KEY (requestid)`, 5, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.misc.id(7000 + u))
		w.str(p.auth.id(r.Int64N(p.agents)))
		w.str(hexString(r, 32))
		w.str(string("NUE"[r.IntN(3)]))
		w.datetime(when(r))
	}),
	small("qu_g_queued_plans", `planid CHAR(8) NOT NULL,
  classname VARCHAR(255) NOT NULL,
  params TEXT NULL,
  period INT UNSIGNED NOT NULL DEFAULT 60,
  next_run DATETIME NOT NULL DEFAULT '0000-00-00 00:00:00',
  PRIMARY KEY (planid)`, 8, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.misc.id(8000 + u))
		w.str(pick(r, []string{"La_Mail_FetchPlan", "La_Report_Daily", "Gpf_Cleanup"}))
		w.strN("{}", chance(r, 50))
		w.uint(uint64(60 * (1 + r.IntN(60))))
		w.datetime(map[bool]int64{true: 0, false: when(r)}[chance(r, 25)])
	}),
	small("qu_g_queue_delayed_jobs", `jobid BIGINT UNSIGNED NOT NULL,
  queue VARCHAR(64) NOT NULL,
  payload TEXT NOT NULL,
  attempts TINYINT UNSIGNED NOT NULL DEFAULT 0,
  available_at DATETIME NOT NULL,
  PRIMARY KEY (jobid)`, 6, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.uint(uint64(u + 1))
		w.str(pick(r, []string{"default", "mail", "reports"}))
		w.str(`{"job":"` + hexString(r, 8) + `"}`)
		w.uint(uint64(r.IntN(4)))
		w.datetime(when(r))
	}),
	small("qu_g_queue_failures", `failureid BIGINT UNSIGNED NOT NULL,
  queue VARCHAR(64) NOT NULL,
  payload TEXT NOT NULL,
  error TEXT NULL,
  failed_at DATETIME NOT NULL,
  PRIMARY KEY (failureid)`, 4, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.uint(uint64(u + 1))
		w.str("mail")
		w.str(`{"job":"` + hexString(r, 8) + `"}`)
		w.strN("SMTP error: 550 Mailbox unavailable\nStack trace:\n#0 /var/www/liveagent/include/Gpf/Mail.php(42)", chance(r, 25))
		w.datetime(when(r))
	}),
	small("qu_g_queue_jobs", `jobid BIGINT UNSIGNED NOT NULL,
  queue VARCHAR(64) NOT NULL,
  payload MEDIUMTEXT NOT NULL,
  attempts TINYINT UNSIGNED NOT NULL DEFAULT 0,
  reserved_at DATETIME NULL,
  created DATETIME NOT NULL,
  PRIMARY KEY (jobid)`, 20, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.uint(18446744073709551000 + uint64(u)) // near the top of BIGINT UNSIGNED
		w.str(pick(r, []string{"default", "mail", "reports"}))
		w.str(`{"job":"` + hexString(r, 8) + `","data":"` + base64ish(r, 100+r.IntN(400)) + `"}`)
		w.uint(uint64(r.IntN(4)))
		w.datetimeN(when(r), chance(r, 60))
		w.datetime(when(r))
	}),
	small("qu_g_queue_planed_jobs", `jobid CHAR(8) NOT NULL,
  queue VARCHAR(64) NOT NULL,
  payload TEXT NOT NULL,
  planned_at DATETIME NOT NULL,
  PRIMARY KEY (jobid)`, 5, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(p.misc.id(9000 + u))
		w.str("default")
		w.str(`{"job":"` + hexString(r, 8) + `"}`)
		w.datetime(when(r))
	}),
	small("qu_g_sessions", `sessionid VARCHAR(64) NOT NULL,
  userid CHAR(8) NULL,
  ip VARCHAR(39) NOT NULL DEFAULT '',
  created DATETIME NOT NULL,
  last_access DATETIME NOT NULL,
  PRIMARY KEY (sessionid)`, 25, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str(hexString(r, 26) + strconv.FormatInt(u, 10))
		w.strN(p.user.id(u%p.agents), chance(r, 30))
		w.str(ip(r))
		t := when(r)
		w.datetime(t)
		w.datetime(t + r.Int64N(7200))
	}),
	{
		name: "qu_g_session_values", ignored: true, count: fixed(25),
		ddl: `sessionid VARCHAR(64) NOT NULL,
  name VARCHAR(100) NOT NULL,
  value MEDIUMTEXT NULL,
  PRIMARY KEY (sessionid, name)`,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			sid := contentStream(p.seed, "qu_g_sessions").at(u) // same id as qu_g_sessions row u
			id := hexString(sid, 26) + strconv.FormatInt(u, 10)
			for _, k := range []string{"auth", "lang", "state"} {
				w.begin()
				w.str(id)
				w.str(k)
				w.strN(`a:1:{s:4:"data";s:8:"`+hexString(r, 8)+`";}`, k == "state" && chance(r, 50))
				w.end()
			}
		},
	},
	small("qu_g_token_buckets", `bucketid VARCHAR(100) NOT NULL,
  tokens BIGINT UNSIGNED NOT NULL DEFAULT 0,
  capacity INT UNSIGNED NOT NULL DEFAULT 0,
  last_refill DATETIME NOT NULL,
  PRIMARY KEY (bucketid)`, 10, func(p *plan, r *rand.Rand, w *rows, u int64) {
		w.str("api:" + hexString(r, 12) + ":" + strconv.FormatInt(u, 10))
		w.uint(r.Uint64()) // the whole unsigned range
		w.uint(uint64(r.IntN(1000)))
		w.datetime(when(r))
	}),
}

// small is a table on the ignore list with a fixed number of rows, one
// row per unit.
func small(name, ddl string, n int64, cols func(p *plan, r *rand.Rand, w *rows, u int64)) *table {
	return &table{name: name, ignored: true, count: fixed(n), ddl: ddl,
		gen: func(p *plan, r *rand.Rand, w *rows, u int64) {
			w.begin()
			cols(p, r, w, u)
			w.end()
		}}
}

func browserID(p *plan, i int64) string {
	return p.misc.id(1<<28+i) + p.misc.id(1<<29+i) + p.misc.id(3<<28+i) + p.misc.id(1<<30+i)
}

// content is the attachment body: random bytes behind a file header for
// images and archives, repetitive text for documents; nil for NULL.
func content(fi fileInfo) []byte {
	if fi.size < 0 {
		return nil
	}
	b := make([]byte, 0, fi.size+256)
	var pcg rand.PCG
	pcg.Seed(fi.rseed, fi.rseed^0x5bd1e995)
	r := rand.New(&pcg)
	if fi.size == 0 {
		return b
	}
	switch fi.kind {
	case 'R':
		switch fi.mime {
		case "image/jpeg":
			b = append(b, 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0)
		case "image/png":
			b = append(b, 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n')
		default:
			b = append(b, 'P', 'K', 3, 4)
		}
		for len(b) < fi.size {
			v := r.Uint64()
			b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
		}
	default:
		if fi.mime == "application/pdf" {
			b = append(b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"...)
		}
		lang := languages[r.IntN(len(languages))]
		for len(b) < fi.size {
			b = append(b, lang[r.IntN(len(lang))]...)
			if r.IntN(8) == 0 {
				b = append(b, '\n')
			} else {
				b = append(b, ' ')
			}
		}
	}
	return b[:fi.size]
}

// The fixed rows of qu_g_versions: the installed version is the newest done
// row whose application is not 'gpf': 5.55.1.2 (5.56.0.3 never finished).
type version struct {
	name, app string
	done      int64 // -1: NULL (not done)
}

var versions = []version{
	{"1.21.3", "gpf", 1546300800},
	{"5.50.2.1", "la", 1640995200},
	{"1.22.0", "gpf", 1672531200},
	{"5.54.0.7", "la", 1704067200},
	{"5.55.0.1", "la", 1717200000},
	{"5.55.1.2", "la", 1735689600},
	{"1.22.4", "gpf", 1735689700},
	{"5.56.0.3", "la", -1},
}

// VersionName is the LiveAgent version the generated database reports.
const VersionName = "5.55.1.2"

var settings = [][3]string{
	// name, value ("<NULL>" for NULL), accountid ("" for NULL)
	{"allowed_ips", "10.0.0.0/8,192.168.1.15,2001:db8::/32", "a"},
	{"server_name", "support.example.com", ""},
	{"base_url", "https://support.example.com/", ""},
	{"default_language", "cs", "a"},
	{"timezone", "Europe/Prague", "a"},
	{"smtp_host", "smtp.example.com", "a"},
	{"smtp_port", "587", "a"},
	{"smtp_password", "", "a"},
	{"mail_signature", "S pozdravem / Mit freundlichen Grüßen / よろしくお願いいたします", "a"},
	{"chat_invitation_enabled", "Y", "a"},
	{"license_code", "<NULL>", ""},
	{"last_cron_run", "2025-06-29 23:59:01", ""},
	{"encryption_check", "ok", ""},
	{"max_upload_size", "10485760", "a"},
	{"gdpr_retention_days", "365", "a"},
	{"theme", "default", "a"},
	{"company_name", "Příklad s.r.o. \"Support\"", "a"},
	{"welcome_text", "Vítejte! Willkommen! ようこそ！", "a"},
}

// The fixed rows of qu_la_mail_accounts: every status and fetch type, with
// exactly one active piping account.
type mailAccount struct {
	name, email   string
	status, fetch byte
}

var mailAccounts = []mailAccount{
	{"Support IMAP", "support@example.com", 'A', 'I'},
	{"Sales POP3", "sales@example.com", 'A', '3'},
	{"Built-in", "help@example.ladesk.com", 'A', 'B'},
	{"Forwarding", "fwd@example.com", 'S', 'F'},
	{"New IMAP", "new@example.com", 'P', 'I'},
	{"Old POP3", "old@example.com", 'I', '3'},
	{"Mail pipe", "pipe@example.com", 'A', 'P'},
	{"Disabled IMAP", "disabled@example.com", 'I', 'I'},
	{"Old pipe", "oldpipe@example.com", 'I', 'P'},
}
