// Package assetsim holds the emulators of the asset systems seatlake syncs into: Jira Service Management Assets'
// Imports REST API (jsmassets) and ServiceNow's Import Set and Table APIs (servicenow). Each is an independent
// implementation of the documented service (reference §5-6), sharing no code with the sinks in load/, so a test
// that a sink works against it proves something. serve.go serves them on loopback (for `seatlake sim` and the demo)
// with credentials derived from the tenant simulator's seed.
package assetsim
