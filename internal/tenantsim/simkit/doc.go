// Package simkit is what the simulator's service emulators share, so each of them is only its endpoints: the Kit
// (the seed of ids and page tokens, the request sequence, the queue of injected faults and what each does to a
// connection, the counters, a pool of reply buffers, the wall clock), the Reply every answer is rendered into and
// the Endpoint that renders it, the Dynamics environments' request pipeline (EnvServer), the shapes of service
// limits (Window, Bucket, Guard), the OData $filter engine of Dataverse and F&O (ParseFilter), and the JSON, date and
// URL writers every service writes alike.
//
// Contracts:
//   - Replies are rendered into a buffer before anything is sent, so every answer has a Content-Length and a
//     TruncatedBody fault can cut it short visibly.
//   - Request ids, error trace ids and page tokens derive from the seed and the request sequence: the same requests
//     in the same order get the same ids.
//   - Page tokens are sealed with a check value: a client that edits or invents one is refused.
//   - The clock is read through Kit.Now at every use, so tests can move it.
package simkit
