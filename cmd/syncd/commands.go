package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"

	"github.com/syncd-dev/syncd/router"
	"github.com/syncd-dev/syncd/scopes"
)

// cmdValidate checks a config without opening any connection. Secrets that
// are not available here (unset env(), unreadable file()) are warnings.
func cmdValidate(args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`: an .hcl file or a directory of them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" {
		fmt.Fprintln(os.Stderr, "syncd validate: --config is required")
		return 2
	}
	cfg, ok := loadConfig(*config, scopes.LoadOptions{AllowMissingSecrets: true})
	if !ok {
		return 1
	}
	fmt.Printf("%s: ok (%d sources, %d targets, %d scopes)\n", *config, len(cfg.Sources), len(cfg.Targets), len(cfg.Scopes))
	return 0
}

// cmdTail prints a scope's messages, one JSON document per line.
func cmdTail(args []string) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`, to find the NATS server")
	url := fs.String("nats", "", "NATS server `url` (default: from --config)")
	fromNow := fs.Bool("from-now", false, "print only messages published from now on")
	count := fs.Int("count", 0, "stop after `n` messages (0: never)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "syncd tail: want exactly one SCOPE")
		return 2
	}
	var ncfg scopes.NATS
	if *config != "" {
		// tail needs NATS and its credentials, not the databases' DSNs.
		cfg, ok := loadConfig(*config, scopes.LoadOptions{SkipDatabaseSecrets: true})
		if !ok {
			return 1
		}
		ncfg = cfg.NATS
		if ncfg.URL == "" {
			ncfg.URL = "nats://" + ncfg.Listen
		}
	}
	if *url != "" {
		ncfg.URL = *url
	}
	if ncfg.URL == "" {
		fmt.Fprintln(os.Stderr, "syncd tail: give --config or --nats")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	conn, err := router.Connect(ncfg, hclog.NewNullLogger(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "syncd tail:", err)
		return 1
	}
	defer conn.Close()
	seen := 0
	err = router.Tail(ctx, conn, fs.Arg(0), *fromNow, func(body []byte) error {
		if _, err := os.Stdout.Write(append(body, '\n')); err != nil {
			return err
		}
		seen++
		if *count > 0 && seen >= *count {
			return router.ErrTailDone
		}
		return nil
	})
	if err != nil && !errors.Is(err, router.ErrTailDone) && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "syncd tail:", err)
		return 1
	}
	return 0
}

// cmdScopes prints the running daemon's /scopes document: as JSON when
// stdout is not a terminal or with --json, else as renderScopes's text.
// With --watch it prints it again every second until interrupted.
func cmdScopes(args []string) int {
	fs := flag.NewFlagSet("scopes", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`, to find the admin address")
	asJSON := fs.Bool("json", false, "print the JSON document even on a terminal")
	watch := fs.Bool("watch", false, "print it again every second until interrupted")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" {
		fmt.Fprintln(os.Stderr, "syncd scopes: --config is required")
		return 2
	}
	cfg, ok := loadConfig(*config, scopes.LoadOptions{AllowMissingSecrets: true, SkipDatabaseSecrets: true})
	if !ok {
		return 1
	}
	text := !*asJSON && isatty.IsTerminal(os.Stdout.Fd())
	show := func(ctx context.Context) error {
		body, err := adminRequest(ctx, cfg, http.MethodGet, "/scopes")
		if err != nil {
			return err
		}
		if !text {
			_, err = os.Stdout.Write(body)
			return err
		}
		var doc scopesDoc
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("decode /scopes: %w", err)
		}
		out := renderScopes(doc, time.Now())
		if *watch {
			out = "\x1b[H\x1b[2J" + out // home, clear: redraw in place
		}
		_, err = io.WriteString(os.Stdout, out)
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if !*watch {
		if err := show(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "syncd scopes:", err)
			return 1
		}
		return 0
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		// Watching outlives a daemon restart: say why there is nothing
		// to show, and try again.
		if err := show(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "syncd scopes:", err)
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
}

// adminCall sends method path to the admin server of the daemon that
// runs config, with the admin token if the config has one, and copies
// the answer to stdout. It returns the exit code of command.
func adminCall(command, config, method, path string) int {
	cfg, ok := loadConfig(config, scopes.LoadOptions{AllowMissingSecrets: true, SkipDatabaseSecrets: true})
	if !ok {
		return 1
	}
	body, err := adminRequest(context.Background(), cfg, method, path)
	if err == nil {
		_, err = os.Stdout.Write(body)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "syncd %s: %v\n", command, err)
		return 1
	}
	return 0
}

// adminRequest sends method path to the admin server of the daemon that runs
// cfg, with the admin token if cfg has one, and returns the body of a 200
// answer; any other answer is an error with its status and body.
func adminRequest(ctx context.Context, cfg *scopes.Config, method, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+adminHost(cfg.Admin.Listen)+path, nil)
	if err != nil {
		return nil, err
	}
	if cfg.Admin.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is syncd running? %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s %s: %s\n%s", method, path, resp.Status, body)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", method, path, err)
	}
	return body, nil
}

// adminHost is the address to reach an admin server listening on listen:
// a listen address without a host (":7070") binds every interface,
// loopback included.
func adminHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || host != "" {
		return listen
	}
	return net.JoinHostPort("127.0.0.1", port)
}
