package resilience

import (
	"context"
	"strconv"
	"time"

	"github.com/netresilience/resilience/internal/observe"
)

// Kind names the kind of policy an [Event] comes from.
type Kind uint8

// The kinds of policy. The zero Kind is none of them.
const (
	KindRetry     Kind = iota + 1 // package retry
	KindBreaker                   // package breaker
	KindBudget                    // package budget
	KindBulkhead                  // package bulkhead
	KindRateLimit                 // package ratelimit
	KindThrottle                  // package throttle
	KindTimeout                   // package timeout
	KindHedge                     // package hedge
	KindFallback                  // package fallback
	KindTransport                 // package resiliencehttp's Transport, for what only it does
	KindReconnect                 // package reconnect
	KindPace                      // package pace
	KindServer                    // server-side shedding (resiliencegrpc's Server), for what only it does
	KindFleet                     // fleet-wide state shared through Redis (module resilienceredis)
	KindAdaptive                  // package adaptive
)

var kindNames = [...]string{
	KindRetry:     "retry",
	KindBreaker:   "breaker",
	KindBudget:    "budget",
	KindBulkhead:  "bulkhead",
	KindRateLimit: "ratelimit",
	KindThrottle:  "throttle",
	KindTimeout:   "timeout",
	KindHedge:     "hedge",
	KindFallback:  "fallback",
	KindTransport: "transport",
	KindReconnect: "reconnect",
	KindPace:      "pace",
	KindServer:    "server",
	KindFleet:     "fleet",
	KindAdaptive:  "adaptive",
}

// String returns the name of the policy's package, such as "retry" or
// "ratelimit", "transport" for [KindTransport], or "server" for
// [KindServer].
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// EventType says what happened in an [Event]: it names the field of
// [Observer] that receives the event.
type EventType uint8

// The types of event, one per field of [Observer]. The zero EventType is none
// of them.
const (
	EventRetry           EventType = iota + 1 // Observer.Retry
	EventSuccess                              // Observer.Success
	EventGiveUp                               // Observer.GiveUp
	EventStateChange                          // Observer.StateChange
	EventReject                               // Observer.Reject
	EventAdmit                                // Observer.Admit
	EventTimeout                              // Observer.Timeout
	EventAbandonedReturn                      // Observer.AbandonedReturn
	EventHedge                                // Observer.Hedge
	EventFallback                             // Observer.Fallback
	EventConnected                            // Observer.Connected
	EventLost                                 // Observer.Lost
	EventDialFailed                           // Observer.DialFailed
	EventStackedRetries                       // Observer.StackedRetries
)

var eventNames = [...]string{
	EventRetry:           "retry",
	EventSuccess:         "success",
	EventGiveUp:          "give-up",
	EventStateChange:     "state-change",
	EventReject:          "reject",
	EventAdmit:           "admit",
	EventTimeout:         "timeout",
	EventAbandonedReturn: "abandoned-return",
	EventHedge:           "hedge",
	EventFallback:        "fallback",
	EventConnected:       "connected",
	EventLost:            "lost",
	EventDialFailed:      "dial-failed",
	EventStackedRetries:  "stacked-retries",
}

// String returns a short lower-case name, such as "give-up" or
// "state-change".
func (t EventType) String() string {
	if int(t) < len(eventNames) && eventNames[t] != "" {
		return eventNames[t]
	}
	return "EventType(" + strconv.Itoa(int(t)) + ")"
}

// Event is one thing a policy did, as an [Observer] receives it: a plain
// value, passed by copy, that a policy builds only when the Observer has a
// func for its Type. Which fields are set depends on the Type and Kind, as
// the fields of Observer say; the others are zero.
type Event struct {
	Type   EventType
	Kind   Kind
	Policy string // the policy's Config.Name; "" if it has none

	// Context is the context of the call the event belongs to, as the
	// policy received it. It is context.Background() for events that
	// belong to no call (a breaker's state change, a budget's refusal) or
	// that come through a method that takes no context (a breaker's or a
	// throttle's Allow). It is never nil.
	Context context.Context

	// Time is when it happened, on the policy's clock: the time given to
	// an At method (AllowAt, DoneAt, ...) under virtual time, or the time
	// the policy read.
	Time time.Time

	// Err is the error behind the event, if any: the failed attempt's
	// (Retry), the call's final error (GiveUp), the policy's rejection
	// (Reject: errors.As finds the package's *Error, such as a
	// *breaker.Error), the timeout's *timeout.Error (Timeout), what an
	// abandoned call returned (AbandonedReturn), the failure that fell back
	// (Fallback), a supervisor's failed dial (DialFailed) or the cause of
	// its connection's end (Lost).
	Err error

	// Attempt numbers what the event is about: the attempt that failed
	// (Retry) or the attempts made (Success, GiveUp), 1 for the first; the
	// hedge (Hedge, and a hedge's Reject), 1 for the first; the breaker's
	// new state (StateChange: its generation, which grows by one with
	// every change of state); a supervisor's dials (Connected: the dial's
	// number in the outage; DialFailed: the failures in a row); the client
	// library's retry count (StackedRetries).
	Attempt int

	// Delay is a duration whose meaning depends on the Type: the wait
	// before the next attempt (Retry); how long the call waited for its
	// slot or tokens (Admit, and a bulkhead's Reject); how long until the
	// policy may admit the call, where it knows (Reject by a breaker or a
	// rate limiter, as the rejection's RetryAfter); how long the attempt
	// had run (Timeout, AbandonedReturn); the delay after which the hedge
	// was sent (Hedge, and a hedge's Reject); for a supervisor, how long it
	// was without a connection (Connected), how long the connection had
	// been up (Lost), or the wait before its next dial (DialFailed, and
	// its Reject).
	Delay time.Duration

	// From and To are the states of a breaker's StateChange, as
	// breaker.State's String returns them: "closed", "open", "half-open".
	From, To string

	// Reason says why: the retry.Reason a retry policy gave up for
	// (GiveUp), such as "attempts exhausted"; the rejection's reason
	// (Reject), such as "open", "queue full" or "wait too long"; the class
	// of the failure that fell back (Fallback), such as "transient";
	// "panicked" for an abandoned call that panicked (AbandonedReturn); and
	// what showed a client library's own retry (StackedRetries), such as
	// "X-Stainless-Retry-Count: 1".
	Reason string

	// Cost is the call's tokens, for a rate limiter's Admit and Reject, and
	// the tokens a pacer counted the call for (its Admit and Reject).
	Cost int

	// Probability is the exact rejection probability a throttle refused
	// the call at, for its Reject.
	Probability float64

	// Shadow marks what a policy in shadow mode (its Config's Shadow field)
	// would have done but did not: a Reject whose call went on all the same,
	// and a breaker's StateChange while it admits every call. Dashboards
	// tell real rejections from would-have ones by it.
	Shadow bool
}

// Observer receives the events of the policies it is given to, in the spirit
// of net/http/httptrace.ClientTrace: one optional func per type of event,
// each taking an [Event]. Set the funcs you need and give the Observer to any
// number of policies through their Config's Observer field; [Observers]
// joins several into one.
//
// A policy without an Observer, or whose Observer lacks the func for an
// event, pays a nil check for it and builds no event. Building one allocates
// nothing, but reads the clock for its Time where the policy has not read it
// already (about 20 to 60ns, by machine): set Success and Admit, which come
// with every call, only if you use them. The funcs run on the
// goroutine of the call the event belongs to (or, for a breaker's state
// changes, on the goroutine of a call that made a change), never while the
// policy holds a lock, so they may call any method of the policy; they
// should not block, since the call waits for them. Funcs shared by policies
// or by concurrent calls must be safe for concurrent use. A panic in a func
// is recovered and dropped: the policy and the call go on as if it had
// returned. An Observer must not be changed once a policy has it.
type Observer struct {
	// Retry: an attempt failed, and the retry policy tries again after
	// Delay. Attempt is the attempt that failed, Err its error.
	Retry func(Event)

	// Success: a call through the retry policy succeeded, after Attempt
	// attempts: 1 when it succeeded at once, more when it did after
	// retries.
	Success func(Event)

	// GiveUp: a call through the retry policy failed for good after
	// Attempt attempts: 1 when the first attempt's error was not worth
	// retrying. Reason is why (the retry.Reason), Err the error the call
	// returns (a *retry.Error when it was retried, or could have been).
	// With Success, it ends every call a retry policy begins, but for a
	// call whose attempt panicked. A supervisor (Kind reconnect) reports
	// GiveUp when it stops after MaxAttempts failed dials in a row, with
	// Attempt that count, Reason "attempts exhausted" and Err the error its
	// Run returns.
	GiveUp func(Event)

	// StateChange: a breaker changed state, From one To another. Changes
	// reach the func in the order they happened, and Attempt numbers them.
	// An adaptive limiter (Kind adaptive) reports a change of its limit,
	// at most once a second: From and To are the old and new limits in
	// decimal, and Attempt is the new limit.
	StateChange func(Event)

	// Reject: a policy refused a call, which did not run: a breaker open,
	// or half-open with its probes taken (Reason "open", "half-open full");
	// a bulkhead full; an adaptive limit reached; a throttle's draw; a rate limiter short of tokens; a
	// pacer whose key's quota would not let the call go in time; a
	// retry budget spent (Kind budget); a hedge that the budget refused
	// (Kind hedge); a supervisor's dial that its breaker refused (Kind
	// reconnect, Reason "breaker"), after which it waits Delay before it
	// asks again; a call that a gRPC server shed (Kind server, with the
	// method as Policy and the pushback it sent as Delay), beside the
	// event of the policy that refused it. Err is the rejection, Reason why. A call whose own
	// context ended while it waited is not rejected. With Shadow set, the
	// policy is in shadow mode: it would have refused the call, which went
	// on all the same.
	Reject func(Event)

	// Admit: a bulkhead, an adaptive limiter, a rate limiter or a pacer
	// admitted a call, after waiting Delay for its slot, tokens or turn
	// (zero when it went at once). It comes for every admission, so keep
	// it cheap.
	Admit func(Event)

	// Timeout: an attempt's deadline passed while the caller's context was
	// alive, after the attempt had run Delay. Err is the *timeout.Error the
	// attempt returns.
	Timeout func(Event)

	// AbandonedReturn: a call that a timeout in Abandon mode left running
	// returned at last, Delay after it began, with Err; Reason is
	// "panicked" if it panicked instead (the panic then ends the program).
	AbandonedReturn func(Event)

	// Hedge: a hedger sent hedge number Attempt, Delay after the call
	// began.
	Hedge func(Event)

	// Fallback: a call failed with Err, in the class Reason, and its
	// alternative is about to run.
	Fallback func(Event)

	// Connected: a supervisor's dial succeeded and the connection is live.
	// Attempt is the dial's number in the current outage (1 when the first
	// dial succeeded) and Delay how long the supervisor was without a
	// connection before it.
	Connected func(Event)

	// Lost: a supervisor's connection ended, with Err the cause, after it
	// had been up Delay. Reason is "early" when it ended within the
	// supervisor's MinUptime, which counts as a failed dial; "" otherwise.
	Lost func(Event)

	// DialFailed: a supervisor's dial failed with Err; Attempt is the
	// number of failures in a row (failed dials and early losses), and
	// Delay the wait before the supervisor dials again.
	DialFailed func(Event)

	// StackedRetries: a client library retries on top of the policy, so
	// that every retry of the library makes a full round of the policy's
	// attempts (with openai-go's default of 2 retries over a transport
	// making 4 attempts, 12 requests for one call), and the library's
	// backoff follows each rejection of an open breaker. It comes once per
	// policy (a resiliencehttp Transport), the first time a request shows
	// it: Kind is KindTransport, Attempt the library's retry count, Reason
	// what was seen, such as "X-Stainless-Retry-Count: 1". Turn the
	// library's retries off (option.WithMaxRetries(0) in openai-go and
	// anthropic-sdk-go).
	StackedRetries func(Event)
}

// fields lists every func field of an Observer, for Observers.
var fields = [...]func(*Observer) *func(Event){
	func(o *Observer) *func(Event) { return &o.Retry },
	func(o *Observer) *func(Event) { return &o.Success },
	func(o *Observer) *func(Event) { return &o.GiveUp },
	func(o *Observer) *func(Event) { return &o.StateChange },
	func(o *Observer) *func(Event) { return &o.Reject },
	func(o *Observer) *func(Event) { return &o.Admit },
	func(o *Observer) *func(Event) { return &o.Timeout },
	func(o *Observer) *func(Event) { return &o.AbandonedReturn },
	func(o *Observer) *func(Event) { return &o.Hedge },
	func(o *Observer) *func(Event) { return &o.Fallback },
	func(o *Observer) *func(Event) { return &o.Connected },
	func(o *Observer) *func(Event) { return &o.Lost },
	func(o *Observer) *func(Event) { return &o.DialFailed },
	func(o *Observer) *func(Event) { return &o.StackedRetries },
}

// Observers joins observers into one. It returns nil if every one is nil,
// the one that is not if there is only one, and otherwise a new Observer
// whose every func calls those of the list, in the list's order: a field is
// nil when no observer of the list has that func. A panic in one func of the
// list does not keep the next from being called. Observers reads the
// observers' funcs when it is called.
func Observers(list ...*Observer) *Observer {
	var only *Observer
	n := 0
	for _, o := range list {
		if o != nil {
			only = o
			n++
		}
	}
	if n <= 1 {
		return only
	}
	joined := &Observer{}
	for _, field := range fields {
		var funcs []func(Event)
		for _, o := range list {
			if o != nil && *field(o) != nil {
				funcs = append(funcs, *field(o))
			}
		}
		switch len(funcs) {
		case 0:
		case 1:
			*field(joined) = funcs[0]
		default:
			*field(joined) = func(e Event) {
				for _, f := range funcs {
					observe.Call(f, e)
				}
			}
		}
	}
	return joined
}

// ObserveAll returns an Observer whose every func is f: for an exporter that
// handles every event in one place, switching on [Event].Type. Since its
// Success and Admit funcs are set, a retry policy builds an event for every
// call, and a bulkhead or a rate limiter for every admission. A nil f gives a
// nil Observer.
func ObserveAll(f func(Event)) *Observer {
	if f == nil {
		return nil
	}
	o := &Observer{}
	for _, field := range fields {
		*field(o) = f
	}
	return o
}
