// Package fc speaks to Alibaba Cloud Function Compute's API: it invokes a
// function asynchronously, signed and sent by Alibaba's official OpenAPI
// core (docs/protocols.md §10).
//
// It knows nothing of what the payload means, and nothing of serving an
// invocation: that is package fcruntime's, which does not link this
// package's SDK.
package fc
