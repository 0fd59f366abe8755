package dump

// defaultIgnores are the tables the documented mysqldump command skips:
// LiveAgent's transient data (logs, sessions, queues, visits, search index).
var defaultIgnores = []string{
	"qu_g_logs",
	"qu_g_mail_message_sources",
	"qu_g_eventqueues",
	"qu_g_eventsubscriptions",
	"qu_g_news",
	"qu_g_usernews",
	"qu_g_passwd_requests",
	"qu_g_queued_jobs",
	"qu_g_queued_plans",
	"qu_g_queue_delayed_jobs",
	"qu_g_queue_failures",
	"qu_g_queue_jobs",
	"qu_g_queue_planed_jobs",
	"qu_g_sessions",
	"qu_g_session_values",
	"qu_g_token_buckets",
	"qu_la_browser_visits",
	"qu_la_conversations_search",
	"qu_la_message_drafts",
	"qu_la_page_visits",
}

// DefaultIgnores returns the 20 tables the documented mysqldump command
// leaves out (a fresh copy each call; callers may modify it).
func DefaultIgnores() []string {
	return append([]string(nil), defaultIgnores...)
}
