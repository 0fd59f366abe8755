package lagen

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// Phrases by language. Everything here fits utf8 (3-byte, BMP only): emoji
// live in their own list and go only into the utf8mb4 column.
var (
	czech = []string{
		"Dobrý den,", "děkuji za vaši zprávu.", "Mám problém s přihlášením do účtu.",
		"Objednávka stále nedorazila.", "Můžete mi prosím poslat fakturu?",
		"Příliš žluťoučký kůň úpěl ďábelské ódy.", "S pozdravem", "Jiří Čermák",
		"Reklamace zboží – vadný výrobek.", "Kdy bude zásilka doručena?",
		"Účet je zablokovaný, co mám dělat?", "Děkuji, to mi pomohlo.",
	}
	german = []string{
		"Sehr geehrte Damen und Herren,", "vielen Dank für Ihre schnelle Antwort.",
		"Ich habe eine Frage zu meiner Bestellung.", "Die Lieferung ist leider beschädigt angekommen.",
		"Mit freundlichen Grüßen", "Jürgen Müller, Hauptstraße 5, München",
		"Können Sie mir bitte die Rechnung erneut zusenden?", "Größe: Ä Ö Ü ß",
		"Das Passwort wird nicht akzeptiert.", "Schöne Grüße aus Köln",
	}
	japanese = []string{
		"お問い合わせいただきありがとうございます。", "注文番号について確認させてください。",
		"ログインできません。", "よろしくお願いいたします。", "山田太郎", "東京都渋谷区",
		"請求書を再送してください。", "商品が届いていません。", "パスワードを忘れました。",
	}
	english = []string{
		"Hello,", "I can't log in to my account since yesterday.", "Please see the attached invoice.",
		"Thanks!", `It says "error 500" and C:\Users\agent\Downloads is empty.`,
		"Best regards, Seán O'Brien", "Could you reset my password, please?",
		"The widget does not show on our website.", "We would like to upgrade our plan.",
		"Ticket escalated to level 2.", "Line one\nline two\r\nline three\twith a tab",
	}
	languages = [][]string{english, english, czech, german, japanese}
	emoji     = []string{"😀", "👍", "🎉", "🙏", "❤️", "🚀", "😅", "👋🏽", "🇨🇿"}

	firstNames = []string{"Jana", "Petr", "Jürgen", "Anna", "Tomáš", "Lukas", "Yuki", "John",
		"María", "Zoë", "Łukasz", "Sören", "花子", "太郎", "Seán", "Ægir"}
	lastNames = []string{"Nováková", "Dvořák", "Müller", "Schmidt", "Svoboda", "Tanaka",
		"Smith", "O'Brien", "García", "Weiß", "Kowalski", "山田", "佐藤", "Černý"}
	companies = []string{"Quality Unit s.r.o.", "Müller & Söhne GmbH", "株式会社サンプル",
		"Acme Corp.", "Pekárna U Kováře", "", "O'Reilly \"Books\" Ltd."}
	cities     = []string{"Praha", "Brno", "München", "Köln", "東京", "大阪", "New York", "Bratislava", "Zürich", ""}
	countries  = []string{"CZ", "DE", "JP", "US", "SK", "AT", "CH", "GB"}
	domains    = []string{"example.com", "example.cz", "example.de", "example.jp", "mail.example.org"}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36",
	}
	pages = []string{"/", "/pricing", "/cenik", "/de/preise", "/ja/お問い合わせ", "/blog/how-to-set-up-live-chat",
		"/features/ticketing", "/kontakt", "/checkout?step=2&plan=large", "/support/knowledge-base/article-42"}
	titles = []string{"Pricing – LiveAgent", "Ceník | Podpora", "Preise und Pakete", "お問い合わせ",
		"How to set up live chat", "Ticketing software", "Kontakt", "Checkout", "Knowledge base"}
)

func pick(r *rand.Rand, list []string) string { return list[r.IntN(len(list))] }

// sentence appends n phrases of one randomly chosen language.
func sentence(b *strings.Builder, r *rand.Rand, n int) {
	lang := languages[r.IntN(len(languages))]
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(lang[r.IntN(len(lang))])
	}
}

// text returns about n bytes of multilingual text (utf8, no emoji).
func text(r *rand.Rand, n int) string {
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		sentence(&b, r, 1+r.IntN(3))
	}
	return b.String()
}

// chatLine is one short chat message; with mb4 it may carry emoji.
func chatLine(r *rand.Rand, mb4 bool) string {
	var b strings.Builder
	sentence(&b, r, 1+r.IntN(2))
	if mb4 && r.IntN(4) == 0 {
		b.WriteByte(' ')
		b.WriteString(pick(r, emoji))
	}
	return b.String()
}

// html returns a mail body of about n bytes.
func html(r *rand.Rand, n int, mb4 bool) string {
	var b strings.Builder
	b.WriteString(`<html><head><meta charset="utf-8"></head><body><div dir="ltr">`)
	for b.Len() < n {
		b.WriteString("<p>")
		sentence(&b, r, 2+r.IntN(4))
		if mb4 && r.IntN(8) == 0 {
			b.WriteString(pick(r, emoji))
		}
		b.WriteString("</p>\n")
		if r.IntN(6) == 0 {
			b.WriteString(`<blockquote style="margin:0 0 0 .8ex;border-left:1px #ccc solid">`)
			sentence(&b, r, 3)
			b.WriteString("</blockquote>\n")
		}
	}
	b.WriteString("</div></body></html>")
	return b.String()
}

func personName(r *rand.Rand) (first, last string) {
	return pick(r, firstNames), pick(r, lastNames)
}

func email(r *rand.Rand, i int64) string {
	return "user" + strconv.FormatInt(i, 10) + "@" + pick(r, domains)
}

func ipv4(r *rand.Rand) string {
	return strconv.Itoa(1+r.IntN(223)) + "." + strconv.Itoa(r.IntN(256)) + "." +
		strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
}

func ip(r *rand.Rand) string {
	if r.IntN(10) == 0 {
		return "2001:db8:" + strconv.FormatInt(int64(r.IntN(65536)), 16) + "::" + strconv.FormatInt(int64(r.IntN(65536)), 16)
	}
	return ipv4(r)
}

func hexString(r *rand.Rand, n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func base64ish(r *rand.Rand, n int) string {
	const digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.IntN(64)]
	}
	return string(b)
}

// chance reports true with probability p percent.
func chance(r *rand.Rand, p int) bool { return r.IntN(100) < p }

// clip cuts s to at most n characters (VARCHAR(n) counts characters).
func clip(s string, n int) string {
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}
