package scopes

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// FormatDiagnostics writes one line per diagnostic:
//
//	file:line:col: error: summary: detail
//
// with "warning" for warnings, without ": detail" when there is none, and
// without the position when the diagnostic has no subject. Line breaks in
// details become spaces. It returns the first write error.
func FormatDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	for _, d := range diags {
		var b strings.Builder
		if d.Subject != nil {
			fmt.Fprintf(&b, "%s:%d:%d: ", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
		}
		if d.Severity == hcl.DiagWarning {
			b.WriteString("warning: ")
		} else {
			b.WriteString("error: ")
		}
		b.WriteString(d.Summary)
		if detail := strings.Join(strings.Fields(d.Detail), " "); detail != "" {
			b.WriteString(": ")
			b.WriteString(detail)
		}
		b.WriteByte('\n')
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("write diagnostics: %w", err)
		}
	}
	return nil
}
