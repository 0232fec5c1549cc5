package capture

import "testing"

func TestPositionText(t *testing.T) {
	tests := []struct {
		pos  Position
		text string
	}{
		{0, "0/0"},
		{0x16B3748, "0/16B3748"},
		{0x1_0000_00FF, "1/FF"},
		{^Position(0), "FFFFFFFF/FFFFFFFF"},
	}
	for _, tt := range tests {
		if got := tt.pos.String(); got != tt.text {
			t.Errorf("String(%d) = %q, want %q", uint64(tt.pos), got, tt.text)
		}
		// The prefix has hex letters: AppendText must leave them alone.
		if got := string(tt.pos.AppendText([]byte("cafe:"))); got != "cafe:"+tt.text {
			t.Errorf("AppendText(%d) = %q, want %q", uint64(tt.pos), got, "cafe:"+tt.text)
		}
		got, err := ParsePosition(tt.text)
		if err != nil || got != tt.pos {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v", tt.text, got, err, tt.pos)
		}
	}
	for _, bad := range []string{"", "16B3748", "x/1", "1/", "1/100000000"} {
		if _, err := ParsePosition(bad); err == nil {
			t.Errorf("ParsePosition(%q) succeeded", bad)
		}
	}
}
