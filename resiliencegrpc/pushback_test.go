package resiliencegrpc_test

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/netresilience/resilience/resiliencegrpc"
)

func withRetryInfo(t *testing.T, delays ...*durationpb.Duration) *status.Status {
	t.Helper()
	st := status.New(codes.Unavailable, "x")
	var details []protoadapt.MessageV1
	for _, d := range delays {
		details = append(details, &errdetails.RetryInfo{RetryDelay: d})
	}
	st, err := st.WithDetails(details...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestParsePushback(t *testing.T) {
	const key = resiliencegrpc.PushbackTrailer
	for _, tc := range []struct {
		name    string
		trailer metadata.MD
		st      *status.Status
		want    time.Duration
		ok      bool
	}{
		{"none", nil, nil, 0, false},
		{"other trailer", metadata.Pairs("x", "1"), status.New(codes.Unavailable, ""), 0, false},
		{"50ms", metadata.Pairs(key, "50"), nil, 50 * time.Millisecond, true},
		{"zero", metadata.Pairs(key, "0"), nil, 0, true},
		{"int32 max", metadata.Pairs(key, "2147483647"), nil, 2147483647 * time.Millisecond, true},
		{"above int32", metadata.Pairs(key, "2147483648"), nil, -1, true},
		{"negative", metadata.Pairs(key, "-5"), nil, -1, true},
		{"not a number", metadata.Pairs(key, "5ms"), nil, -1, true},
		{"empty", metadata.Pairs(key, ""), nil, -1, true},
		{"spaces", metadata.Pairs(key, " 5"), nil, -1, true},
		{"repeated", metadata.Pairs(key, "5", key, "5"), nil, -1, true},
		{"plus sign", metadata.Pairs(key, "+5"), nil, -1, true},
		{"leading zero", metadata.Pairs(key, "05"), nil, -1, true},
		{"minus zero", metadata.Pairs(key, "-0"), nil, -1, true},
		{"int32 min", metadata.Pairs(key, "-2147483648"), nil, -1, true},
		{"trailing space", metadata.Pairs(key, "5 "), nil, -1, true},
		{"nanos-only retry info", nil, withRetryInfo(t, &durationpb.Duration{Nanos: 5}), 5, true},
		{"negative nanos-only retry info", nil, withRetryInfo(t, &durationpb.Duration{Nanos: -5}), -1, true},
		{"retry info", nil, withRetryInfo(t, durationpb.New(1500*time.Millisecond)), 1500 * time.Millisecond, true},
		{"trailer wins over retry info", metadata.Pairs(key, "7"), withRetryInfo(t, durationpb.New(time.Second)), 7 * time.Millisecond, true},
		{"retry info without delay", nil, withRetryInfo(t, nil), 0, false},
		{"negative retry info", nil, withRetryInfo(t, &durationpb.Duration{Seconds: -1}), -1, true},
		{"invalid retry info", nil, withRetryInfo(t, &durationpb.Duration{Seconds: 1, Nanos: -1}), -1, true},
		{"two retry infos", nil, withRetryInfo(t, durationpb.New(time.Second), durationpb.New(time.Second)), -1, true},
		{"huge retry info", nil, withRetryInfo(t, &durationpb.Duration{Seconds: 315576000000}), 1<<63 - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := resiliencegrpc.ParsePushback(tc.trailer, tc.st)
			if d != tc.want || ok != tc.ok {
				t.Errorf("ParsePushback: %v, %v; want %v, %v", d, ok, tc.want, tc.ok)
			}
		})
	}
}

func FuzzParsePushback(f *testing.F) {
	for _, s := range []string{"0", "50", "-1", "2147483647", "2147483648", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := resiliencegrpc.ParsePushback(metadata.Pairs(resiliencegrpc.PushbackTrailer, v), nil)
		if !ok {
			t.Fatalf("ParsePushback(%q): no pushback", v)
		}
		if d != -1 && (d < 0 || d > 2147483647*time.Millisecond || d%time.Millisecond != 0) {
			t.Fatalf("ParsePushback(%q) = %v: neither a refusal nor whole milliseconds in int32", v, d)
		}
	})
}
