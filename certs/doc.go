// Package certs gives the webhook a serving certificate without cert-manager or any other
// dependency: it creates a private CA and a certificate for the webhook's Service (and for
// any extra names, such as the address of a clientConfig.url), keeps both in one Secret
// that every replica shares, writes the certificate into the server's certificate folder,
// and keeps the CA bundle of the webhook's MutatingWebhookConfiguration current. Renewal
// starts when two thirds of a certificate's lifetime have passed.
//
// Replicas agree without leader election: the Secret is created only if absent and updated
// only with the resourceVersion that was read (compare-and-swap), so of several replicas
// that renew at once exactly one write lands and the others adopt it.
package certs
