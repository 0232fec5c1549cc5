package main

import (
	"context"
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

// cmdScopes prints the running daemon's /scopes document.
func cmdScopes(args []string) int {
	fs := flag.NewFlagSet("scopes", flag.ContinueOnError)
	config := fs.String("config", "", "config `path`, to find the admin address")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *config == "" {
		fmt.Fprintln(os.Stderr, "syncd scopes: --config is required")
		return 2
	}
	return adminCall("scopes", *config, http.MethodGet, "/scopes")
}

// adminCall sends method path to the admin server of the daemon that
// runs config, with the admin token if the config has one, and copies
// the answer to stdout. It returns the exit code of command.
func adminCall(command, config, method, path string) int {
	cfg, ok := loadConfig(config, scopes.LoadOptions{AllowMissingSecrets: true, SkipDatabaseSecrets: true})
	if !ok {
		return 1
	}
	req, err := http.NewRequest(method, "http://"+adminHost(cfg.Admin.Listen)+path, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "syncd %s: %v\n", command, err)
		return 1
	}
	if cfg.Admin.Token != "" {
		req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "syncd %s: is syncd running? %v\n", command, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Fprintf(os.Stderr, "syncd %s: %s %s: %s\n%s", command, method, path, resp.Status, body)
		return 1
	}
	if _, err := io.Copy(os.Stdout, resp.Body); err != nil {
		fmt.Fprintf(os.Stderr, "syncd %s: %v\n", command, err)
		return 1
	}
	return 0
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
