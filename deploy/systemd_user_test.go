package deploy

import (
	"bufio"
	"bytes"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/syncd-dev/syncd/test/testenv"
)

// TestSystemdUnitReadsConfig checks that the service can read its config
// when installed as the unit's header says. It builds the documented
// layout under a temporary root (each `install` line of the recipe, with
// its owners and modes), then runs `syncd validate` on the path ExecStart
// passes, with the environment file systemd would read as root, as the
// uid, gid and supplementary groups systemd would give the unit's
// processes (User=, Group=, DynamicUser=, SupplementaryGroups=).
//
// The container has no running systemd, so the test models what systemd
// does with these settings (systemd.exec(5)) and changes identity with
// setpriv; it runs as root to do so.
func TestSystemdUnitReadsConfig(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds the install layout with root-owned files and runs syncd as the service's uid with setpriv")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatal("setpriv not found; install it with: apt-get install -y util-linux")
	}
	bin, err := testenv.SyncdBinary()
	if err != nil {
		t.Fatal(err)
	}
	recipe, svc := readUnit(t, "systemd/syncd.service")

	// The names the recipe creates, and free ids for them on this machine.
	ids := map[string]int{"root": 0}
	static := map[string]bool{}
	for _, args := range recipe["useradd"] {
		name := args[len(args)-1]
		if !slices.Contains(args, "--system") || !slices.Contains(args, "--user-group") {
			t.Fatalf("useradd %s: want --system --user-group, the model this test knows", strings.Join(args, " "))
		}
		id := freeID(t, 999, -1, ids)
		ids[name], static[name] = id, true // --user-group: a group of the same name and id
	}
	creds := serviceCreds(t, svc, ids, static)

	root := t.TempDir()
	// t.TempDir's directories are 0700: let the service user reach the
	// layout, as it reaches / on a host.
	for _, d := range []string{root, filepath.Dir(root)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"etc/systemd/system", "usr/local/bin", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range recipe["install"] {
		install(t, root, args, ids, func(src string) string {
			if src == "bin/syncd" {
				return bin
			}
			return filepath.Join("..", src)
		})
	}

	exe := strings.Fields(last(t, svc, "ExecStart"))
	if len(exe) != 4 || exe[1] != "run" || exe[2] != "--config" {
		t.Fatalf("ExecStart=%s: want BINARY run --config PATH", strings.Join(exe, " "))
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"}
	if f, ok := svc["EnvironmentFile"]; ok {
		// systemd reads it as root before dropping privileges.
		env = append(env, readEnvFile(t, filepath.Join(root, strings.TrimPrefix(f[len(f)-1], "-")))...)
	}
	config := filepath.Join(root, exe[3])
	args := []string{"--reuid=" + strconv.Itoa(creds.uid), "--regid=" + strconv.Itoa(creds.gid)}
	if len(creds.groups) == 0 {
		args = append(args, "--clear-groups")
	} else {
		var gs []string
		for _, g := range creds.groups {
			gs = append(gs, strconv.Itoa(g))
		}
		args = append(args, "--groups="+strings.Join(gs, ","))
	}
	args = append(args, "--", filepath.Join(root, exe[0]), "validate", "--config", config)
	cmd := exec.Command(setpriv, args...)
	cmd.Env, cmd.Dir = env, "/"
	out, err := cmd.CombinedOutput()
	if err != nil || bytes.Contains(bytes.ToLower(out), []byte("warning")) {
		t.Errorf("syncd validate as uid %d, gid %d, groups %v (the unit's user): %v\n%s", creds.uid, creds.gid, creds.groups, err, out)
	}

	// data_dir must be the StateDirectory=, the one directory systemd
	// makes writable for the service (ProtectSystem=strict).
	if cfg := validate(t, config); cfg.DataDir != filepath.Join("/var/lib", last(t, svc, "StateDirectory")) {
		t.Errorf("data_dir %s is not the unit's StateDirectory=%s", cfg.DataDir, last(t, svc, "StateDirectory"))
	}
	// Without DynamicUser= the sandboxing it implied must be explicit.
	if d := svc["DynamicUser"]; len(d) == 0 || d[len(d)-1] != "yes" {
		for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "RemoveIPC=yes", "RestrictSUIDSGID=yes"} {
			k, v, _ := strings.Cut(want, "=")
			if got := svc[k]; len(got) == 0 || got[len(got)-1] != v {
				t.Errorf("unit has %s=%v, want %s: DynamicUser= implied it", k, got, want)
			}
		}
	}
}

// creds is the identity systemd runs a unit's processes as.
type creds struct {
	uid, gid int
	groups   []int // supplementary
}

// serviceCreds models systemd.exec(5): User= runs as that user, with its
// default group unless Group= names another, and the user's group list
// (for a user made by useradd --user-group, its own group) plus
// SupplementaryGroups=. DynamicUser= with no static user of that name
// allocates a fresh uid and gid from 61184-65519 and no supplementary
// groups but SupplementaryGroups=. ids holds the names the install
// recipe creates (and root); static, the users among them.
func serviceCreds(t *testing.T, svc map[string][]string, ids map[string]int, static map[string]bool) creds {
	t.Helper()
	lookup := func(name string) int {
		id, ok := ids[name]
		if !ok {
			t.Fatalf("unit names %q, which the install recipe does not create", name)
		}
		return id
	}
	var c creds
	name, dynamic := "", false
	if u := svc["User"]; len(u) > 0 {
		name = u[len(u)-1]
	}
	if d := svc["DynamicUser"]; len(d) > 0 {
		dynamic = d[len(d)-1] == "yes"
	}
	switch {
	case static[name]:
		c.uid = lookup(name)
		c.gid = c.uid
		c.groups = []int{c.gid}
	case dynamic:
		c.uid = freeID(t, 61184, 1, ids)
		c.gid = c.uid
	case name == "":
		t.Fatal("the unit runs as root: set User=")
	default:
		t.Fatalf("User=%s is neither created by the install recipe nor dynamic: the unit would not start", name)
	}
	if g := svc["Group"]; len(g) > 0 {
		c.gid = lookup(g[len(g)-1])
	}
	for _, gs := range svc["SupplementaryGroups"] {
		for _, g := range strings.Fields(gs) {
			c.groups = append(c.groups, lookup(g))
		}
	}
	return c
}

// freeID returns an id from start on, in steps of step, that is neither a
// user nor a group on this machine nor in taken.
func freeID(t *testing.T, start, step int, taken map[string]int) int {
	t.Helper()
	for id := start; id > 0 && id < 65535; id += step {
		s := strconv.Itoa(id)
		_, uerr := user.LookupId(s)
		_, gerr := user.LookupGroupId(s)
		if uerr != nil && gerr != nil && !slices.Contains(slices.Collect(maps.Values(taken)), id) {
			return id
		}
	}
	t.Fatalf("no free id from %d", start)
	return 0
}

// readUnit returns the commands of the install recipe in the unit's
// header comment (lines "#   COMMAND ARGS [&& COMMAND ARGS]", without a
// trailing comment), by command, and the [Service] settings, each with its values
// in order.
func readUnit(t *testing.T, path string) (recipe map[string][][]string, service map[string][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recipe, service = map[string][][]string{}, map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case section == "" && strings.HasPrefix(line, "#   "):
			line, _, _ = strings.Cut(line[1:], " #")
			for cmd := range strings.SplitSeq(line, "&&") {
				if args := strings.Fields(cmd); len(args) > 1 {
					recipe[args[0]] = append(recipe[args[0]], args[1:])
				}
			}
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			service[k] = append(service[k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(recipe["install"]) == 0 {
		t.Fatalf("%s: no install recipe in the header comment", path)
	}
	return recipe, service
}

// last returns the last value of a [Service] setting, as systemd uses.
func last(t *testing.T, svc map[string][]string, key string) string {
	t.Helper()
	v := svc[key]
	if len(v) == 0 {
		t.Fatalf("unit has no %s=", key)
	}
	return v[len(v)-1]
}

// install does what install(1) run as root does with args (-d, -m, -o,
// -g; default root:root 0755), with every destination under root. source
// maps a source path of the recipe to a file here.
func install(t *testing.T, root string, args []string, ids map[string]int, source func(string) string) {
	t.Helper()
	dir, mode, uid, gid := false, os.FileMode(0o755), 0, 0
	var paths []string
	for i := 0; i < len(args); i++ {
		owner := func() int {
			i++
			id, ok := ids[args[i]]
			if !ok {
				t.Fatalf("install %s: %s is not created by the recipe", strings.Join(args, " "), args[i])
			}
			return id
		}
		switch args[i] {
		case "-d":
			dir = true
		case "-m":
			i++
			m, err := strconv.ParseUint(args[i], 8, 32)
			if err != nil {
				t.Fatalf("install %s: mode: %v", strings.Join(args, " "), err)
			}
			mode = os.FileMode(m)
		case "-o":
			uid = owner()
		case "-g":
			gid = owner()
		default:
			if strings.HasPrefix(args[i], "-") {
				t.Fatalf("install %s: option %s is not modelled here", strings.Join(args, " "), args[i])
			}
			paths = append(paths, args[i])
		}
	}
	place := func(path string) {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if dir {
		for _, p := range paths {
			p = filepath.Join(root, p)
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			place(p)
		}
		return
	}
	if len(paths) != 2 {
		t.Fatalf("install %s: want SOURCE DEST", strings.Join(args, " "))
	}
	dst := filepath.Join(root, paths[1])
	if strings.HasSuffix(paths[1], "/") {
		dst = filepath.Join(dst, filepath.Base(paths[0]))
	}
	in, err := os.Open(source(paths[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatalf("install %s: %v", strings.Join(args, " "), err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	place(dst)
}

// readEnvFile returns the KEY=VALUE lines of an EnvironmentFile=.
func readEnvFile(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	return env
}
