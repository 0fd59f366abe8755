// Package isolate stops everything that brings new data into a LiveAgent
// installation (mail accounts, social accounts, widgets, chat invitations,
// the IP allow-list, cron, the web server), records each original value
// before changing it, and restores exactly those values afterwards. It also
// waits for background jobs to drain.
package isolate
