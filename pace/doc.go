// Package pace keeps a client within the quota that a service reports in
// its answers, such as an LLM provider's requests and tokens per minute: it
// spends what is left evenly until the quota's reset, instead of in a burst
// followed by refusals (429 Too Many Requests) and backoff.
//
// [Parse] reads what an answer says — the IETF's RateLimit fields, OpenAI's
// x-ratelimit-* headers or Anthropic's anthropic-ratelimit-* headers — into
// a [Quota]: for requests and for tokens, what remains and how long until the
// reset. A [Pacer] keeps, per key (a host, an API key), what the latest
// answer said, and answers the one question "when may the next call to this
// key go?": [Pacer.Reserve] reserves the call's turn and says how long to
// wait for it; the caller waits, sends, and hands the answer's Quota to
// [Reservation.Done]. Reserve never blocks: the executor waits — as
// resiliencehttp's Transport does, with its Config.Pace set.
//
// # The model
//
// Each dimension d (requests, tokens) of a key is paced on its own, and a
// call goes when every dimension lets it. When an answer comes at time t0
// saying that R units remain until the reset, due D later, the pacer draws a
// schedule:
//
//	reset    T    = t0 + D
//	left     L    = R − F                 F: units of the calls reserved and not yet answered
//	spacing  s    = (T − max(next, t0)) / L
//
// where next is the turn the schedule had reached. The calls on their way
// are subtracted because the answer may not count them yet: it is
// conservative, since some of them may have reached the service before the
// answer was written. A call of cost c in d (one request; its tokens) then
// goes at
//
//	at = min(max(next, now), T)   if c ≤ L
//	at = T                        if c > L: what is left cannot serve it, so it waits for the reset
//
// the latest over the dimensions, and reserving it moves the schedule on:
// L −= c, next = at + c·s. So L units go evenly between the answer and the
// reset, the last one at T at the latest, and a dimension whose reset has
// passed, or that no answer spoke of, holds no call back until an answer
// speaks of it again: the calls that waited for the reset all go at it, as
// many as there are callers waiting, and the first answers after it draw
// the new schedule. Every answer redraws the schedule, and so corrects it:
// the remaining count in an answer already includes what the calls before it
// really spent, whatever they had been estimated to cost. A service whose
// quota refills continuously (a token bucket, as OpenAI's and Anthropic's
// do), whose reset is the time until it is full again, is paced the same
// way; then R/D starts above the rate the bucket sustains and settles there,
// as the answers come.
//
// # Tokens
//
// A call's tokens are known only once it is answered (the usage is in the
// body), so a call is counted before it goes for an estimate: the tokens its
// caller gives ([Pacer.Reserve]'s argument, which an executor takes from
// the call's context, [WithTokens]), or else the average that the pacer learned from the key's
// answers — the tokens spent in the window over the requests spent, (limit −
// remaining) of tokens over (limit − remaining) of requests — or else
// Config.Tokens. An estimate off the mark is corrected by the next answer,
// as above; it only shifts the spacing until then.
//
// # Clocks
//
// A reset given as a duration (OpenAI's, the IETF's) is counted from when
// the answer came, on the client's monotonic clock; the time the answer took
// to come only makes it later, which is safe. A reset given as a time
// (Anthropic's) depends on the two clocks agreeing: Parse counts it from the
// answer's Date when that differs from the client's clock by more than a
// second, and a reset in the past is no reset. Resets are capped at
// [MaxReset], a day.
//
// Every method that reads the clock has a form that takes the time as an
// argument ([Pacer.ReserveAt], [Pacer.DelayAt], [Pacer.UpdateAt],
// [Reservation.DoneAt], [Reservation.CancelAt], [Error.RetryAfterAt],
// [Pacer.SnapshotAt]), for tests and simulators on virtual time.
//
// A Pacer is safe for concurrent use; a decision takes a read lock on the
// keys and a mutex of its key for a few nanoseconds, and a reservation or a
// rejection allocates nothing.
//
// Config fields follow the standard library's convention (net.Dialer's
// KeepAlive): zero means the documented default, and for a field whose
// default can be turned off — the field's doc says so — a negative value
// turns it off.
package pace
