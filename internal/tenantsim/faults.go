package tenantsim

import "github.com/seatlake/seatlake/internal/tenantsim/simkit"

// FaultKind is a failure the simulator can inject. Its JSON form is its name.
type FaultKind = simkit.FaultKind

// The injectable faults.
const (
	Status500     = simkit.Status500     // 500 with the service's error body
	Status503     = simkit.Status503     // 503 with the service's error body, no Retry-After
	Status504     = simkit.Status504     // 504 with the service's error body
	Throttle429   = simkit.Throttle429   // 429 with the service's body and Retry-After: Delay (default 1 s)
	ConnReset     = simkit.ConnReset     // the connection is closed (RST) without an answer
	TruncatedBody = simkit.TruncatedBody // the status, headers and half of the body, then the connection closes
	SlowPage      = simkit.SlowPage      // the answer waits Delay, or until the client gives up
	ExpireTokens  = simkit.ExpireTokens  // every token issued so far expires, then the request is judged (401)
)

// Fault makes the next Count requests whose path starts with Path (e.g. "/v1.0/auditLogs/signIns") fail as Kind.
// Over HTTP (POST /_sim/faults) it is {"path":…,"kind":"Status503","count":1,"delay":"1.5s"}; delay may also be
// nanoseconds.
type Fault = simkit.Fault

// Stats counts what the simulator served.
type Stats = simkit.Stats
