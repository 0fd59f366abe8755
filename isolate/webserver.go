package isolate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// WebServerOptions say how to stop and start the web server.
type WebServerOptions struct {
	// Services are explicit commands; when empty the running web servers
	// are detected (apache2, httpd, nginx, lighttpd, php*-fpm): with
	// systemd through systemctl, else through service(8) and SysV scripts.
	Services []ServiceCommand `json:"services,omitempty"`
	// SystemdDir exists when systemd runs (default /run/systemd/system).
	SystemdDir string `json:"systemd_dir,omitempty"`
	// InitDir holds the SysV init scripts (default /etc/init.d).
	InitDir string `json:"init_dir,omitempty"`
}

// ServiceCommand stops and starts one service.
type ServiceCommand struct {
	Name  string   `json:"name"`
	Stop  []string `json:"stop"`
	Start []string `json:"start"`
}

var webServerRE = regexp.MustCompile(`^(apache2|httpd|nginx|lighttpd|php[0-9.]*-fpm)$`)

// commands returns the explicit commands or the detected running servers.
func (w WebServerOptions) commands(ctx context.Context, r Runner) ([]ServiceCommand, error) {
	if len(w.Services) > 0 {
		for _, s := range w.Services {
			if s.Name == "" || len(s.Stop) == 0 || len(s.Start) == 0 {
				return nil, fmt.Errorf("isolate: web server %q needs a name, a stop and a start command", s.Name)
			}
		}
		return w.Services, nil
	}
	sysd := w.SystemdDir
	if sysd == "" {
		sysd = "/run/systemd/system"
	}
	if fi, err := os.Stat(sysd); err == nil && fi.IsDir() {
		out, err := r.Run(ctx, nil, "systemctl", "list-units", "--type=service", "--state=running", "--no-legend", "--plain")
		if err != nil {
			return nil, fmt.Errorf("isolate: detecting the web server: %w", err)
		}
		var cmds []ServiceCommand
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			unit := f[0]
			name := strings.TrimSuffix(unit, ".service")
			if webServerRE.MatchString(name) {
				cmds = append(cmds, ServiceCommand{Name: name, Stop: []string{"systemctl", "stop", unit}, Start: []string{"systemctl", "start", unit}})
			}
		}
		return cmds, nil
	}
	initd := w.InitDir
	if initd == "" {
		initd = "/etc/init.d"
	}
	ents, err := os.ReadDir(initd)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("isolate: detecting the web server: %w", err)
	}
	var names []string
	for _, e := range ents {
		if webServerRE.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var cmds []ServiceCommand
	for _, n := range names {
		if _, err := r.Run(ctx, nil, "service", n, "status"); err != nil {
			var ce *CommandError
			if errors.As(err, &ce) {
				continue // not running
			}
			return nil, fmt.Errorf("isolate: detecting the web server: %w", err)
		}
		cmds = append(cmds, ServiceCommand{Name: n, Stop: []string{"service", n, "stop"}, Start: []string{"service", n, "start"}})
	}
	return cmds, nil
}

func runCommand(ctx context.Context, r Runner, argv []string) error {
	if len(argv) == 0 {
		return errors.New("empty command")
	}
	_, err := r.Run(ctx, nil, argv[0], argv[1:]...)
	return err
}

// stopWebServer stops each running web server, recording it first so
// restore starts it again.
func stopWebServer(ctx context.Context, r Runner, w WebServerOptions, sf *stateFile, p Progress, ch *changes) ([]ServiceState, []string, error) {
	var warns []string
	var out []ServiceState
	for _, s := range sf.s.Services {
		if s.Status == Done {
			out = append(out, s)
		}
	}
	cmds, err := w.commands(ctx, r)
	if err != nil {
		return out, warns, err
	}
	if len(cmds) == 0 && len(out) == 0 {
		warns = append(warns, warn(p, "no running web server found (apache2, httpd, nginx, lighttpd, php-fpm); name its commands with --web-stop and --web-start"))
	}
	for _, c := range cmds {
		if err := ctx.Err(); err != nil {
			return out, warns, fmt.Errorf("isolate: %w", err)
		}
		idx := -1
		for i, s := range sf.s.Services {
			if s.Name == c.Name {
				idx = i
			}
		}
		if idx >= 0 && sf.s.Services[idx].Status == Done {
			continue
		}
		if idx < 0 {
			sf.s.Services = append(sf.s.Services, ServiceState{Name: c.Name, Stop: c.Stop, Start: c.Start, Status: Started})
			idx = len(sf.s.Services) - 1
			if err := sf.save(); err != nil {
				return out, warns, err
			}
		}
		if err := runCommand(ctx, r, sf.s.Services[idx].Stop); err != nil {
			// It may have stopped anyway: starting it again is harmless.
			ch.services = append(ch.services, sf.s.Services[idx])
			return out, warns, fmt.Errorf("isolate: stopping %s: %w", c.Name, err)
		}
		ch.services = append(ch.services, sf.s.Services[idx])
		sf.s.Services[idx].Status = Done
		if err := sf.save(); err != nil {
			return out, warns, err
		}
		report(p, Event{Step: "service", Name: c.Name, State: "stopped"})
		out = append(out, sf.s.Services[idx])
	}
	return out, warns, nil
}
