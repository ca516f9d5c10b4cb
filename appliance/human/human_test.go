package human

import "testing"

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Count(0), "0"},
		{Count(999), "999"},
		{Count(1000), "1,000"},
		{Count(1234567), "1,234,567"},
		{Count(-1234), "-1,234"},
		{Bytes(0), "0 B"},
		{Bytes(512), "512 B"},
		{Bytes(1023), "1023 B"},
		{Bytes(1024), "1.0 KiB"},
		{Bytes(1536), "1.5 KiB"},
		{Bytes(104 << 20), "104.0 MiB"},
		{Bytes(3 << 30), "3.0 GiB"},
		{Bytes(5 << 40), "5.0 TiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
