// Package deploy holds the systemd unit, Kubernetes manifests and example
// configs; this test keeps them working with the syncd they ship with.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/syncd-dev/syncd/scopes"
	"github.com/syncd-dev/syncd/test/testenv"
)

// TestExampleConfigsValidate loads every .hcl file in deploy/ and
// examples/ as `syncd validate` does.
func TestExampleConfigsValidate(t *testing.T) {
	var files []string
	for _, root := range []string{".", "../examples"} {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".hcl") {
				files = append(files, path)
			}
			return err
		})
	}
	if len(files) == 0 {
		t.Fatal("no example configs found")
	}
	for _, f := range files {
		validate(t, f)
	}
}

func validate(t *testing.T, path string) *scopes.Config {
	t.Helper()
	cfg, diags := scopes.Load(path, scopes.LoadOptions{AllowMissingSecrets: true})
	if diags.HasErrors() {
		var b bytes.Buffer
		scopes.FormatDiagnostics(&b, diags)
		t.Fatalf("%s does not validate:\n%s", path, b.String())
	}
	return cfg
}

// TestKubernetesManifests checks that the manifests parse and agree with
// the config they carry: probe paths and ports, the config and data
// mounts, and the secrets the config reads.
func TestKubernetesManifests(t *testing.T) {
	f, err := os.Open("kubernetes/syncd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	docs := map[string]map[string]any{}
	dec := yaml.NewDecoder(f)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("parse manifest: %v", err)
		}
		docs[doc["kind"].(string)] = doc
	}
	for _, kind := range []string{"ConfigMap", "StatefulSet", "Service"} {
		if docs[kind] == nil {
			t.Fatalf("manifest has no %s", kind)
		}
	}

	hcl := dig[string](t, docs["ConfigMap"], "data", "syncd.hcl")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "syncd.hcl"), []byte(hcl), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := validate(t, filepath.Join(dir, "syncd.hcl"))

	spec := dig[map[string]any](t, docs["StatefulSet"], "spec", "template", "spec")
	if r := dig[int](t, docs["StatefulSet"], "spec", "replicas"); r != 1 {
		t.Errorf("replicas = %d: a replication slot has one reader", r)
	}
	c := dig[[]any](t, spec, "containers")[0].(map[string]any)
	if args := strings.Join(toStrings(dig[[]any](t, c, "args")), " "); args != "run --config /etc/syncd" {
		t.Errorf("container args %q", args)
	}
	ports := map[string]int{}
	for _, p := range dig[[]any](t, c, "ports") {
		p := p.(map[string]any)
		ports[p["name"].(string)] = p["containerPort"].(int)
	}
	if _, port, _ := net.SplitHostPort(cfg.Admin.Listen); port != "7070" || ports["admin"] != 7070 {
		t.Errorf("admin listens on %s, container port %d", cfg.Admin.Listen, ports["admin"])
	}
	if _, port, _ := net.SplitHostPort(cfg.NATS.Listen); port != "4222" || ports["nats"] != 4222 {
		t.Errorf("nats listens on %s, container port %d", cfg.NATS.Listen, ports["nats"])
	}
	if host, _, _ := net.SplitHostPort(cfg.Admin.Listen); host != "0.0.0.0" {
		t.Errorf("admin listens on %s: the kubelet's probes cannot reach it", cfg.Admin.Listen)
	}
	if p := dig[string](t, c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe path %s", p)
	}
	if p := dig[string](t, c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe path %s", p)
	}
	var mounts []string
	for _, m := range dig[[]any](t, c, "volumeMounts") {
		mounts = append(mounts, m.(map[string]any)["mountPath"].(string))
	}
	if !slices.Contains(mounts, cfg.DataDir) || !slices.Contains(mounts, "/etc/syncd") {
		t.Errorf("mounts %v, want the config dir and data_dir %s", mounts, cfg.DataDir)
	}
	// Every env() the config reads must come from somewhere: here, the
	// container's envFrom secret.
	if len(dig[[]any](t, c, "envFrom")) == 0 && strings.Contains(hcl, "env(") {
		t.Error("config reads env() but the container has no envFrom")
	}
}

// TestSystemdUnit runs systemd-analyze verify on the unit, with ExecStart
// pointing at a real syncd and the example config.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found; install it with: sudo apt-get install -y systemd")
	}
	unit, err := os.ReadFile("systemd/syncd.service")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Type=notify$`).Match(unit) {
		t.Error("unit is not Type=notify; syncd sends READY=1")
	}
	if !regexp.MustCompile(`(?m)^ExecReload=/bin/kill -HUP \$MAINPID$`).Match(unit) {
		t.Error("unit lacks ExecReload=/bin/kill -HUP $MAINPID; syncd reloads its config on SIGHUP")
	}
	start := regexp.MustCompile(`(?m)^ExecStart=(\S+) (.*)$`).FindSubmatch(unit)
	if start == nil || string(start[2]) != "run --config /etc/syncd" {
		t.Fatalf("ExecStart = %q", start)
	}
	bin, err := testenv.SyncdBinary()
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("config")
	local := bytes.Replace(unit, start[0], []byte("ExecStart="+bin+" run --config "+abs), 1)
	path := filepath.Join(t.TempDir(), "syncd.service")
	if err := os.WriteFile(path, local, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// dig walks nested YAML maps and returns the value at the path as T.
func dig[T any](t *testing.T, m map[string]any, path ...string) T {
	t.Helper()
	var cur any = m
	for _, k := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			t.Fatalf("%s: not a map", strings.Join(path, "."))
		}
		cur = mm[k]
	}
	v, ok := cur.(T)
	if !ok {
		t.Fatalf("%s: %T, not %T", strings.Join(path, "."), cur, v)
	}
	return v
}

func toStrings(v []any) []string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = x.(string)
	}
	return s
}
