package scopes

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// decodeRoot decodes the top level of the merged config files. Cross
// references between blocks are checked afterwards, by resolve.
func (l *loader) decodeRoot(content *hcl.BodyContent) *Config {
	cfg := &Config{
		NATS: NATS{
			Listen:          DefaultNATSListen,
			StreamReplicas:  DefaultStreamReplicas,
			StreamMaxAge:    DefaultStreamMaxAge,
			DuplicateWindow: DefaultDuplicateWindow,
		},
		DataDir: DefaultDataDir,
		Admin:   Admin{Listen: DefaultAdminListen},
	}
	l.path(content.Attributes, "data_dir", &cfg.DataDir)
	if a := content.Attributes["data_dir"]; a != nil {
		cfg.DataDirRange = a.NameRange
	}
	singletons := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "nats", "admin":
			if first, dup := singletons[b.Type]; dup {
				l.errorf(b.DefRange, "Duplicate "+b.Type+" block",
					"Only one %s block is allowed; the first is at %s.", b.Type, first)
				continue
			}
			singletons[b.Type] = b.DefRange
			if b.Type == "nats" {
				cfg.NATS.DeclRange = b.DefRange
				l.decodeNATS(b, &cfg.NATS)
			} else {
				cfg.Admin.DeclRange = b.DefRange
				l.decodeAdmin(b, &cfg.Admin)
			}
		case "source":
			if s := l.decodeSource(b); s != nil {
				cfg.Sources = append(cfg.Sources, s)
			}
		case "target":
			if t := l.decodeTarget(b); t != nil {
				cfg.Targets = append(cfg.Targets, t)
			}
		case "scope":
			if d := l.decodeScope(b); d != nil {
				cfg.Scopes = append(cfg.Scopes, d.scope)
			}
		case "template":
			if t := l.decodeTemplate(b); t != nil {
				cfg.Templates = append(cfg.Templates, t)
			}
		}
	}
	return cfg
}

func (l *loader) decodeNATS(b *hcl.Block, n *NATS) {
	content, diags := b.Body.Content(natsSchema())
	l.diags = append(l.diags, diags...)
	attrs := content.Attributes
	l.decode(attrs, "url", &n.URL)
	l.listen(attrs, &n.Listen)
	l.secret(attrs, "creds", &n.Creds)
	l.decode(attrs, "user", &n.User)
	l.secret(attrs, "password", &n.Password)
	if attrs["url"] != nil && attrs["listen"] != nil {
		l.warnf(attrs["listen"].NameRange, "Listen address ignored",
			"The listen address is for the embedded NATS server, which does not run when url is set.")
	}
	if attrs["creds"] != nil && (attrs["user"] != nil || attrs["password"] != nil) {
		l.errorf(attrs["creds"].NameRange, "Conflicting NATS credentials",
			"Use either creds or user and password, not both.")
	}
	if (attrs["user"] == nil) != (attrs["password"] == nil) {
		l.errorf(b.DefRange, "Incomplete NATS credentials", "Set both user and password, or neither.")
	}
	var replicas int64
	if l.decode(attrs, "stream_replicas", &replicas) {
		if replicas < 1 || replicas > 5 {
			l.errorf(attrs["stream_replicas"].Expr.Range(), "Invalid stream_replicas",
				"JetStream streams have 1 to 5 replicas, not %d.", replicas)
		} else {
			n.StreamReplicas = int(replicas)
		}
	}
	l.duration(attrs, "stream_max_age", &n.StreamMaxAge, true)
	if l.decode(attrs, "stream_max_bytes", &n.StreamMaxBytes) && n.StreamMaxBytes < 0 {
		l.errorf(attrs["stream_max_bytes"].Expr.Range(), "Invalid stream_max_bytes",
			"The stream_max_bytes must be 0 (no limit) or more, not %d.", n.StreamMaxBytes)
	}
	l.duration(attrs, "duplicate_window", &n.DuplicateWindow, false)
	if a := attrs["duplicate_window"]; a != nil && n.DuplicateWindow < 100*time.Millisecond {
		l.errorf(a.Expr.Range(), "Invalid duplicate_window",
			"The duplicate_window must be at least 100ms (JetStream's minimum), not %s.", n.DuplicateWindow)
	} else if n.StreamMaxAge > 0 && n.DuplicateWindow > n.StreamMaxAge {
		rng := b.DefRange
		if a := attrs["duplicate_window"]; a != nil {
			rng = a.Expr.Range()
		}
		l.errorf(rng, "Invalid duplicate_window",
			"The duplicate_window (%s) must not exceed stream_max_age (%s).", n.DuplicateWindow, n.StreamMaxAge)
	}
	for _, tb := range content.Blocks { // only tls blocks
		if n.TLS != nil {
			l.errorf(tb.DefRange, "Duplicate tls block", "Only one tls block is allowed in nats.")
			continue
		}
		n.TLS = l.decodeTLS(tb)
	}
}

func (l *loader) decodeTLS(b *hcl.Block) *TLS {
	content, diags := b.Body.Content(tlsSchema())
	l.diags = append(l.diags, diags...)
	t := &TLS{}
	l.path(content.Attributes, "ca_file", &t.CAFile)
	l.path(content.Attributes, "cert_file", &t.CertFile)
	l.path(content.Attributes, "key_file", &t.KeyFile)
	if (t.CertFile == "") != (t.KeyFile == "") {
		l.errorf(b.DefRange, "Incomplete TLS key pair", "Set both cert_file and key_file, or neither.")
	}
	return t
}
