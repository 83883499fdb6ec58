package framework

import (
	"context"
	"errors"
	"fmt"
	"net"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vault-injector/vault-injector/internal/loopback"
)

// NodeWebhookValue is OtherWebhookLabel's value on the namespaces whose pods run on the
// node: the webhook of StartNodeWebhook serves them, and the suite's webhook (whose
// pods the runner plays) leaves them alone.
const NodeWebhookValue = "node"

// StartNodeWebhook starts a webhook process for pods that run on the node (o names the
// product image and envexec's path in it, and a Vault address pods reach), on a free
// loopback port with serving's certificate, and registers it for the namespaces labelled
// OtherWebhookLabel=NodeWebhookValue. The registration is removed, and the process stopped, by the returned stop.
func StartNodeWebhook(ctx context.Context, c *Cluster, serving WebhookServing, o WebhookOptions) (*Webhook, func(context.Context) error, error) {
	port, err := loopback.FreePort(ctx)
	if err != nil {
		return nil, nil, err
	}
	o.Serving = serving
	o.Serving.Port = port
	w, err := StartWebhook(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	cfg := URLWebhookConfiguration("vault-injector-node",
		WebhookURL(net.JoinHostPort(o.Serving.Host, fmt.Sprint(port))),
		&metav1.LabelSelector{MatchLabels: map[string]string{OtherWebhookLabel: NodeWebhookValue}})
	cfg.Webhooks[0].Name = "node.pods.vault-injector.io"
	cfg.Webhooks[0].ClientConfig.CABundle = serving.CAData
	if err := c.Client.Create(ctx, cfg); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("register the node's webhook: %w", err), w.Stop())
	}
	stop := func(ctx context.Context) error {
		return errors.Join(c.Client.Delete(ctx, cfg), w.Stop())
	}
	return w, stop, nil
}
