// Package resilienceredis shares the state of resilience policies across a
// fleet of replicas through Redis, without putting Redis on the path of any
// call: every decision stays local, and a background goroutine per policy
// publishes what the replica saw and reads what the fleet saw.
//
// [Breaker] is a circuit breaker shared by the fleet: see its documentation
// for the model, and [NewBreaker] for how to make one.
//
// # Keys
//
// Every key of one breaker holds the hash tag {Name}, so that the keys live
// in one slot of a Redis Cluster:
//
//   - {Name}:w:<replica> — the replica's window: "<Redis ms> <calls>
//     <failures>", with a time to live of three Intervals;
//   - {Name}:replicas — the set of replicas that published lately;
//   - {Name}:open — while the fleet is open: "<until, Redis ms>
//     <replica>", expiring an Interval after its recovery timeout;
//   - {Name}:probe — the replica that holds the fleet's single probe,
//     expiring after ProbeTTL;
//   - {Name}:events — the channel of transitions: "open <replica>" and
//     "closed <replica> <Redis ms>".
//
// Time comes from Redis (TIME, and key expiry), so replicas with skewed
// clocks agree on when the fleet's open time ends.
//
// # When Redis is in trouble
//
// A round trip is bounded by Timeout. When one fails, or a key holds data
// the breaker cannot read, the replica falls back to its local breaker at
// once (a breaker held open by the fleet is reset, to its own counts), and
// the Observer receives a Fallback event; when Redis answers again, a
// Connected event, and the replica publishes and follows the fleet again.
// So within one Interval of Redis going away, every replica decides alone;
// no call ever fails because Redis is down. What a replica counted while
// Redis was away is in its window when Redis returns, as far as the window
// reaches back.
package resilienceredis
