// Package framework starts the real components vault-injector runs with (a Kubernetes
// control plane from envtest, a Vault dev server, the webhook binary) and plays the
// kubelet for the pods the webhook mutated, so the e2e suite and the local demo
// exercise the product end to end on one machine without a container runtime.
//
// Every starter returns a value with a Stop method; callers own the order of shutdown.
// Nothing here logs or returns secret values: errors name objects, paths and variables.
package framework
