// Command syncd is a change-data-capture daemon: it reads database
// replication logs, cuts row changes into scopes and publishes them on
// NATS JetStream.
//
//	syncd run --config PATH         run the daemon
//	syncd validate --config PATH    check a config without connecting anywhere
//	syncd plan --config PATH        print what a config would change, changing nothing
//	syncd tail [--from-now] SCOPE   print a scope's messages as JSON lines
//	syncd scopes --config PATH      print the running daemon's scope status
//	syncd pause --config PATH SCOPE stop applying a scope to its targets
//	syncd resume --config PATH SCOPE apply it again, from where it stopped
//	syncd resync --config PATH SCOPE copy a scope to its targets again, repairing them
//	syncd version                   print the version
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/mattn/go-isatty"

	"github.com/syncd-dev/syncd/scopes"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: syncd <command> [flags]

commands:
  run       --config PATH                 run the daemon
  validate  --config PATH                 check a config without opening connections
  plan      --config PATH [--json]        print what the config would change against what
                                          runs (exit 0: no changes, 2: changes, 1: error)
  tail      [--config PATH | --nats URL] [--from-now] [--count N] SCOPE
                                          print a scope's messages as JSON lines
  scopes    --config PATH [--json] [--watch]
                                          print the running daemon's scope status: a table
                                          and snapshot progress on a terminal, else JSON
  pause     --config PATH SCOPE           stop applying SCOPE to its targets; capture and its
                                          stream go on (survives restarts)
  resume    --config PATH SCOPE           apply SCOPE again, catching up from where it stopped
  resync    --config PATH [--table T] [--target NAME] SCOPE
                                          copy SCOPE's rows again to its targets (or one table,
                                          one target), deleting the target rows not in scope
  version                                 print the version
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:])
	case "validate":
		return cmdValidate(args[1:])
	case "plan":
		return cmdPlan(args[1:])
	case "tail":
		return cmdTail(args[1:])
	case "scopes":
		return cmdScopes(args[1:])
	case "pause":
		return cmdPause(args[1:])
	case "resume":
		return cmdResume(args[1:])
	case "resync":
		return cmdResync(args[1:])
	case "version", "--version", "-v":
		fmt.Println("syncd", version)
		return 0
	case "help", "--help", "-h":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "syncd: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// loadConfig loads and validates a config, printing every diagnostic as
// file:line:col. It reports whether the config has no errors.
func loadConfig(path string, opts scopes.LoadOptions) (*scopes.Config, bool) {
	cfg, diags := scopes.Load(path, opts)
	scopes.FormatDiagnostics(os.Stderr, diags)
	return cfg, !diags.HasErrors()
}

// newLogger returns the root logger: JSON unless stderr is a terminal.
func newLogger(level string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "syncd",
		Level:      hclog.LevelFromString(strings.ToLower(level)),
		Output:     os.Stderr,
		JSONFormat: !isatty.IsTerminal(os.Stderr.Fd()),
	})
}
