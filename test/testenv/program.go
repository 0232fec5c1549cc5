package testenv

import (
	"log"
	"os"
)

// Program is a TB for programs such as the demo and the benchmark: a
// failure runs the cleanups, newest first, and exits.
type Program struct {
	cleanups []func()
	dir      string
}

// NewProgram returns a Program whose temporary directories live under one
// directory removed by Close.
func NewProgram() *Program {
	dir, err := os.MkdirTemp("", "syncd-")
	if err != nil {
		log.Fatal(err)
	}
	p := &Program{dir: dir}
	p.Cleanup(func() { os.RemoveAll(dir) })
	return p
}

func (p *Program) Helper()                   {}
func (p *Program) Cleanup(f func())          { p.cleanups = append(p.cleanups, f) }
func (p *Program) Failed() bool              { return false }
func (p *Program) Logf(f string, a ...any)   { log.Printf(f, a...) }
func (p *Program) Fatal(a ...any)            { p.Close(); log.Fatal(a...) }
func (p *Program) Fatalf(f string, a ...any) { p.Close(); log.Fatalf(f, a...) }

// TempDir returns a new directory that Close removes.
func (p *Program) TempDir() string {
	d, err := os.MkdirTemp(p.dir, "t")
	if err != nil {
		p.Fatal(err)
	}
	return d
}

// Close runs the cleanups, newest first. It is safe to call twice.
func (p *Program) Close() {
	for i := len(p.cleanups) - 1; i >= 0; i-- {
		p.cleanups[i]()
	}
	p.cleanups = nil
}
