// Package resilienceredis shares the state of resilience policies across a
// fleet of processes through Redis — without putting Redis on the hot path.
// Decisions stay local and never wait on Redis: a background goroutine per
// policy talks to Redis, each call bounded by a timeout, and when Redis is
// down, slow, partitioned or holds bad data, the policy falls back to local
// decisions within one interval, tells its Observer, and goes back to the
// fleet's state when Redis answers again. It never fails closed because of
// Redis, and bad data in Redis is an error event, never a panic.
//
// # Fleet quota
//
// A [Quota] is one replica's share of a fleet-wide rate limit, such as the
// requests and tokens per minute of an LLM provider's API key: Limit units
// per Per, with bursts of up to Burst, kept in Redis by a generic cell rate
// algorithm (GCRA) in one atomic Lua script that reads Redis's clock (TIME),
// so replicas with skewed clocks agree. Calls may be weighted (Allow(n)).
//
// A replica does not ask Redis per call. It leases up to Lease units at
// once — fewer when fewer are available — and spends them locally:
// [Quota.Allow] is an atomic compare-and-swap that neither allocates nor
// reads the clock. [Quota.Wait] waits for the units instead, as
// ratelimit's Wait does, until the background refills bring them. When the lease falls below LowWater, the background
// goroutine asks for more; after a short grant it waits until Redis says
// more will be available, and at least one Interval. Redis therefore sees
// at most about one call per Interval plus one per Lease units spent, per
// replica, whatever the replica's call rate.
//
// For two quotas on one call (requests and tokens), make two Quotas and
// allow the call only if both allow it; a unit taken from the first when the
// second refuses is lost, as with any pair of limits.
//
// # How far over the quota a fleet can go
//
// Redis grants at most Burst + Limit×t/Per units over any span t. A unit
// counts as spent when it is leased, not when a call spends it, so over a
// span t the fleet spends at most
//
//	Burst + Limit×t/Per + Replicas×max(Lease, largest call)
//
// while Redis is up: the extra is the leases held at the start of the span
// (a call that costs more than Lease makes its replica lease its cost).
// While Redis fails, each replica spends from its local limit of
// Limit/Replicas per Per with a burst of Burst/Replicas, which Redis does not
// see, so an outage of length d adds up to
//
//	Burst + Limit×d/Per
//
// across a fleet whose QuotaConfig.Replicas is its true size (and that
// times the true size over Replicas otherwise): with the default Replicas of
// 1, every replica takes the whole quota for itself during an outage. A
// replica stays local until its next sync succeeds, up to one Interval plus
// one SyncTimeout after Redis returns. Units leased and not spent when a
// replica closes or dies are lost, not given back; and units a quiet replica
// holds wait for it while a busy one may be refused, so the fleet may also
// spend up to Replicas×Lease less than the quota. Tests assert both bounds
// with replicas against a real redis-server.
//
// Until its first lease arrives (one round trip after [NewQuota]) a replica
// refuses calls, as it does when its lease is spent and Redis has not
// failed; it does not wait for Redis in either case.
//
// # Redis trouble and events
//
// A failed sync — an error, a timeout after SyncTimeout, a key of the wrong
// type, garbage where a number should be — moves the policy to local mode;
// its Observer's StateChange receives an event of Kind
// resilience.KindFleet, From [ModeFleet] To [ModeLocal], with Err the
// cause; the first sync that succeeds moves it back, with an event From
// ModeLocal To ModeFleet. [Quota.Snapshot] reports the mode, the lease and
// counts of syncs, failures and units granted, for metrics.
//
// # Keys and Redis Cluster
//
// Every key of a policy is Prefix + ":{" + Name + "}:" + part, so that all
// keys of one policy share the hash tag {Name} and land on one Cluster slot.
// The quota's one key is Prefix:{Name}:quota, a string holding the GCRA's
// theoretical arrival time in microseconds of Redis's clock, which expires
// when the bucket is full again. Config.Client takes any
// redis.UniversalClient: a *redis.Client, a *redis.ClusterClient or a
// failover client.
//
// # Fleet retry budget
//
// A [Budget] makes a retry budget (package budget: retries may add Ratio of
// the recent calls, or MinPerSecond, whichever allows more) bound the
// retries of the whole fleet instead of each replica's. Retry policies
// spend [Budget.Local], a plain *budget.Budget, exactly as they spend a
// local one, at the same cost: deciding never waits on Redis.
//
// Model. Every Interval (default one second) the replica runs one Lua
// script, which, at one moment of Redis's clock (TIME):
//
//   - adds the deposits (calls) and withdrawals (retries) the local budget
//     counted since Redis last heard of it to the current bucket;
//   - gives back the grant it reserved at its previous sync;
//   - sums the fleet's buckets over the window: calls D, retries W, and
//     retries R that the other replicas hold as grants;
//   - computes the fleet's allowance A = max(Ratio×D, MinPerSecond×Window)
//     — the local budget's formula on the fleet's sums, with the floor
//     counted once for the fleet — and gives this replica the grant
//     min(A−W−R, (A−W)/n, Reserve), at least zero, where n is the number of
//     replicas that synced within the last three Intervals (plus one
//     SyncTimeout); the grant is reserved in the current bucket, so the
//     others see it.
//
// The replica sets the grant on its local budget (budget.SetGrant), less
// the retries it spent while the script ran; each sync replaces the grant
// left, it does not add to it. While a grant is set, the local budget allows
// a retry only from the grant, so a replica with no calls of its own may
// retry from the fleet's calls. The fleet's allowance is shared equally among
// the active replicas rather than by their calls: the need for retries
// follows failures, which a replica with little traffic may see as well as a
// busy one, and what a replica leaves unspent goes back to the fleet at its
// next sync. The price is that one busy replica among many idle ones gets
// 1/n of what is left per Interval, less than the fleet could give it;
// Reserve caps a grant further.
//
// The window is the local budget's Window, in buckets of one second (or,
// for a Window over a minute, of Window/60 rounded up to whole seconds): the
// sum runs over the buckets that reach back one Window, so a count stays in
// it up to one bucket longer than Window. A count enters the bucket of the
// sync that publishes it, up to one Interval after it was made, or when
// Redis comes back after trouble.
//
// The bound. While Redis answers, a grant never exceeds what the fleet's
// window still allows (A−W−R at the moment of the grant), so the fleet's
// retries over any window stay within
//
//	max(Ratio×D, MinPerSecond×Window) + the grants outstanding when it began
//
// with D the fleet's calls in that window. The second term is what replicas
// were granted against an earlier window's larger allowance (calls that have
// left the window since); it is at most Replicas×Reserve when Reserve is
// set, and at most the earlier allowance otherwise. A fleet of N replicas
// whose budgets each allow MinPerSecond×Window retries alone thus allows that
// many in total, not N times as many; a test asserts the bound with four
// replicas against one redis-server.
//
// Redis trouble. A sync that fails — an error, no answer within
// SyncTimeout (Redis stopped, slow or partitioned), a key of the wrong type,
// or counts that are not integers in [-2^50, 2^50] — clears the local
// budget's grant at once, so the replica decides from its own budget alone,
// which bounds its own retries; its Observer receives a StateChange (Kind
// resilience.KindFleet) From [ModeFleet] To [ModeLocal], with Err the cause.
// That happens within one Interval plus one SyncTimeout of Redis going away;
// during an outage the fleet's retries are bounded by the sum of the
// replicas' local budgets. The replica tries again every Interval; the first
// sync that succeeds publishes everything counted since its last
// acknowledged sync, sets a grant again and sends an event From ModeLocal To
// ModeFleet. Nothing a replica counted is lost across an outage: it
// publishes totals, and Redis keeps the totals it has counted of each
// replica, so a sync whose reply was lost is not counted twice. Only when
// Redis itself loses its data (a restart without persistence) are the
// counts it held lost; the replicas then publish what they counted since
// their last acknowledged sync. Until the first sync after [NewBudget]
// answers, one round trip, the grant is zero and retries are refused.
//
// Keys (all holding the hash tag {Name}, for Redis Cluster):
//
//   - Prefix:{Name}:b:<bucket> — a hash of the calls (d), retries (w) and
//     retries reserved as grants (r) of one bucket; <bucket> is Redis's
//     Unix time divided by the bucket width. It expires one bucket after
//     it leaves the window.
//   - Prefix:{Name}:r:<replica> — a hash of what Redis has counted of the
//     replica (d, w: its totals) and its reserved grant (g, in bucket gb);
//     it expires as a bucket does.
//   - Prefix:{Name}:replicas — a sorted set of the replicas, scored by the
//     time of their latest sync in Redis milliseconds.
//
// Each replica makes one script call per Interval, whatever its call rate,
// and one at [Budget.Close], which publishes its last counts, gives its grant
// back and leaves the set of replicas. A sync reads at most about sixty
// buckets.
//
// # Fleet breaker
//
// [Breaker] is a circuit breaker shared by the fleet: see its documentation
// for the model, and [NewBreaker] for how to make one. It follows the same
// conventions as the Quota: keys Prefix:{Name}:part, SyncTimeout on every
// round trip, the same fleet/local events, and [Breaker.Snapshot] (mode,
// the fleet's state and counts as last read, syncs and their failures) for
// metrics.
//
// # Fleet breaker keys
//
// Every key of one breaker holds the hash tag {Name}, so that the keys live
// in one slot of a Redis Cluster:
//
//   - Prefix:{Name}:w:<replica> — the replica's window: "<Redis ms> <calls>
//     <failures>", with a time to live of three Intervals;
//   - Prefix:{Name}:replicas — the set of replicas that published lately;
//   - Prefix:{Name}:open — while the fleet is open: "<until, Redis ms>
//     <replica>", expiring an Interval after its recovery timeout;
//   - Prefix:{Name}:probe — the replica that holds the fleet's single probe,
//     expiring after ProbeTTL;
//   - Prefix:{Name}:closed — left by the prober whose probe closed the
//     fleet: "<Redis ms> <replica>", expiring three Intervals after the
//     recovery timeout, and removed when the fleet opens again. A replica
//     held open that missed the closing finds it when it would race for the
//     probe, and closes instead (the check and the race are one script,
//     which also takes no probe if the open key changed since the round
//     read it: the fleet opened again);
//   - Prefix:{Name}:events — the channel of transitions: "open <replica>" and
//     "closed <replica> <Redis ms>".
//
// Time comes from Redis (TIME, and key expiry), so replicas with skewed
// clocks agree on when the fleet's open time ends. The winner of the probe
// moves its local breaker from held open straight to half-open
// ([breaker.Breaker.HalfOpen]): no call but the probe gets through. The
// background goroutine reads the local breaker's state when it changes,
// rather than the change's event, so that a change the fleet caused (held
// open, reset, half-open) is never taken for the local breaker's own.
//
// # A fleet breaker when Redis is in trouble
//
// A round trip is bounded by SyncTimeout. When one fails, or a key holds
// data the breaker cannot read (a key of the wrong type, garbage, negative
// counts, failures above calls, numbers out of range), the replica falls
// back to its local breaker at once (a breaker held open by the fleet is
// reset, to its own counts), and the Observer receives a StateChange From
// [ModeFleet] To [ModeLocal] with Err the cause; when Redis answers again,
// one From ModeLocal To ModeFleet, and the replica publishes and follows the
// fleet again. So within one Interval plus one SyncTimeout of Redis going
// away, every replica decides alone; no call ever fails because Redis is
// down. What a replica counted while Redis was away is in its window when
// Redis returns, as far as the window reaches back. The windows are read by
// a script that fails on a key of the wrong type, so such a key is bad data
// rather than a replica gone. An open key that ends more than twice the
// recovery timeout plus an Interval from now is bad data too, so that a
// stray key without an expiry cannot hold the fleet open; and a closing
// stamped in the future counts as a closing now, so that it cannot hide the
// windows published after it.
package resilienceredis
