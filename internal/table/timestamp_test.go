package table

import (
	"testing"
	"time"
)

func TestParseMicros(t *testing.T) {
	tests := []struct {
		in      string
		want    string // RFC 3339 with microseconds, UTC
		wantErr bool
	}{
		{in: "2020-03-13T19:15:41.6195833Z", want: "2020-03-13T19:15:41.619583Z"},
		{in: "2017-09-04T15:35:02Z", want: "2017-09-04T15:35:02Z"},
		{in: "2024-02-29T23:59:59.5Z", want: "2024-02-29T23:59:59.5Z"},
		{in: "1969-12-31T23:59:59.000001Z", want: "1969-12-31T23:59:59.000001Z"},
		{in: "2022-05-12T22:19:12+02:00", want: "2022-05-12T20:19:12Z"},
		{in: "0001-01-01T00:00:00Z", want: "0001-01-01T00:00:00Z"},
		{in: "not a time", wantErr: true},
		{in: "2020-13-13T19:15:41Z", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTimestamp(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseTimestamp(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTimestamp(%q): %v", tt.in, err)
			}
			if s := time.UnixMicro(int64(got)).UTC().Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("ParseTimestamp(%q) = %s, want %s", tt.in, s, tt.want)
			}
		})
	}
}

// BenchmarkParseTimestamp measures the fast path, which runs once per sign-in and audit record.
func BenchmarkParseTimestamp(b *testing.B) {
	for _, in := range []string{"2020-03-13T19:15:41.6195833Z", "2017-09-04T15:35:02Z"} {
		b.Run("string/"+in, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseTimestamp(in); err != nil {
					b.Fatal(err)
				}
			}
		})
		raw := []byte(in)
		b.Run("bytes/"+in, func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseTimestamp(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
