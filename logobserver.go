package resilience

import (
	"context"
	"log/slog"
	"time"
)

// LogConfig configures the Observer that [LogObserver] returns. Its zero
// value logs at the levels [DefaultLogLevel] chooses.
type LogConfig struct {
	// Level chooses the level an event is logged at, and whether it is
	// logged at all (false: it is not). It runs for every event the
	// Observer receives, before the logger is asked whether the level is
	// enabled, so it must be cheap and safe for concurrent use. Default
	// [DefaultLogLevel]; a func that changes a few levels can call it for
	// the others.
	Level func(Event) (level slog.Level, log bool)
}

// DefaultLogLevel is the level [LogObserver] logs an event at when its
// LogConfig has no Level func:
//
//   - Warn: a breaker that opens (StateChange to "open"), a call that
//     gave up (GiveUp), a supervisor's connection lost (Lost), and a client
//     library retrying on top of the HTTP transport (StackedRetries, once
//     per transport) — what someone should look at;
//   - Info: any other change of a breaker's state (to "half-open", or
//     "closed" as the service recovers), a call that fell back to its
//     alternative (Fallback), a supervisor's connection made (Connected)
//     and its dial that failed (DialFailed, one per wait of its backoff);
//   - Error: a call that a timeout abandoned and that panicked later
//     (AbandonedReturn with Reason "panicked");
//   - Debug: a failed attempt that will be retried (Retry), a rejected call
//     (Reject: an open breaker rejects every call, and its opening is
//     already logged at Warn), an attempt that timed out (Timeout), an
//     abandoned call that returned, a hedge sent (Hedge), and an event of a
//     type it does not know.
//
// It never logs a Success or an Admit, which come with every call (the
// Observer does not even ask for them).
func DefaultLogLevel(e Event) (slog.Level, bool) {
	switch e.Type {
	case EventGiveUp:
		return slog.LevelWarn, true
	case EventStateChange:
		if e.To == "open" {
			return slog.LevelWarn, true
		}
		return slog.LevelInfo, true
	case EventLost, EventStackedRetries:
		return slog.LevelWarn, true
	case EventFallback, EventConnected, EventDialFailed:
		return slog.LevelInfo, true
	case EventAbandonedReturn:
		if e.Reason == "panicked" {
			return slog.LevelError, true
		}
		return slog.LevelDebug, true
	case EventSuccess, EventAdmit:
		return 0, false
	}
	return slog.LevelDebug, true
}

// logMessages are the messages of the log records, by event type.
var logMessages = [...]string{
	EventRetry:           "resilience: attempt failed, retrying",
	EventSuccess:         "resilience: call succeeded",
	EventGiveUp:          "resilience: call gave up",
	EventStateChange:     "resilience: breaker changed state",
	EventReject:          "resilience: call rejected",
	EventAdmit:           "resilience: call admitted",
	EventTimeout:         "resilience: attempt timed out",
	EventAbandonedReturn: "resilience: abandoned call returned",
	EventHedge:           "resilience: hedge sent",
	EventFallback:        "resilience: call fell back",
	EventConnected:       "resilience: connected",
	EventLost:            "resilience: connection lost",
	EventDialFailed:      "resilience: dial failed",
	EventStackedRetries:  "resilience: a client library retries on top of the transport",
}

// LogObserver returns an Observer that logs the events of the policies it is
// given to through logger, one record per event, at the level cfg.Level
// chooses ([DefaultLogLevel] by default). It logs nothing for a call that
// simply succeeds: it has no Success or Admit func. It returns nil for a nil
// logger.
//
// Each record goes to the logger's handler with the event's Context, so
// that a handler can read the call's trace or request id from it, and the
// event's Time, the policy's clock (virtual time in a simulation). Its
// message says what happened, such as "resilience: call gave up", and its
// attributes are those of the event that are set: "policy" (the policy's
// name), "kind" (such as "breaker"), "event" (such as "give-up"), "attempt",
// "delay", "from", "to", "reason", "shadow" (true for what a policy in shadow
// mode would have done), "cost", "probability" and "error".
//
// An event whose level the logger does not enable costs the Level func and
// the handler's Enabled method, and allocates nothing.
func LogObserver(logger *slog.Logger, cfg LogConfig) *Observer {
	if logger == nil {
		return nil
	}
	level := cfg.Level
	if level == nil {
		level = DefaultLogLevel
	}
	l := &eventLogger{handler: logger.Handler(), level: level}
	return &Observer{
		Retry:           l.log,
		GiveUp:          l.log,
		StateChange:     l.log,
		Reject:          l.log,
		Timeout:         l.log,
		AbandonedReturn: l.log,
		Hedge:           l.log,
		Fallback:        l.log,
		Connected:       l.log,
		Lost:            l.log,
		DialFailed:      l.log,
		StackedRetries:  l.log,
	}
}

// eventLogger logs events through a slog handler.
type eventLogger struct {
	handler slog.Handler
	level   func(Event) (slog.Level, bool)
}

func (l *eventLogger) log(e Event) {
	lvl, ok := l.level(e)
	if !ok {
		return
	}
	if e.Context == nil { // never from a policy; from a caller's own event
		e.Context = context.Background()
	}
	if l.handler.Enabled(e.Context, lvl) {
		l.write(e, lvl)
	}
}

// write builds the record of e, whose level is enabled, and hands it to the
// handler; kept apart from log so that a disabled event's path stays
// small.
func (l *eventLogger) write(e Event, lvl slog.Level) {
	msg := "resilience: " + e.Type.String()
	if int(e.Type) < len(logMessages) && logMessages[e.Type] != "" {
		msg = logMessages[e.Type]
	}
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	r := slog.NewRecord(t, lvl, msg, 0)
	r.AddAttrs(
		slog.String("policy", e.Policy),
		slog.String("kind", e.Kind.String()),
		slog.String("event", e.Type.String()),
	)
	if e.Attempt != 0 {
		r.AddAttrs(slog.Int("attempt", e.Attempt))
	}
	if e.Delay != 0 {
		r.AddAttrs(slog.Duration("delay", e.Delay))
	}
	if e.From != "" || e.To != "" {
		r.AddAttrs(slog.String("from", e.From), slog.String("to", e.To))
	}
	if e.Reason != "" {
		r.AddAttrs(slog.String("reason", e.Reason))
	}
	if e.Shadow {
		r.AddAttrs(slog.Bool("shadow", true)) // what a policy in shadow mode would have done
	}
	if e.Cost != 0 {
		r.AddAttrs(slog.Int("cost", e.Cost))
	}
	if e.Probability != 0 {
		r.AddAttrs(slog.Float64("probability", e.Probability))
	}
	if e.Err != nil {
		r.AddAttrs(slog.Any("error", e.Err))
	}
	l.handler.Handle(e.Context, r) // a handler's error has nowhere to go, as in slog.Logger
}
