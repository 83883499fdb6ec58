package framework

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"
)

// WebhookMetricsAddrs reads webhook logs and returns the metrics address each webhook
// announced in its "serving" line, so any process of the suite can scrape every webhook
// without having started it.
func WebhookMetricsAddrs(logPaths ...string) ([]string, error) {
	var addrs []string
	for _, path := range logPaths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read webhook log: %w", err)
		}
		for sc := bufio.NewScanner(bytes.NewReader(data)); sc.Scan(); {
			var line struct {
				Msg     string `json:"msg"`
				Metrics string `json:"metrics"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" && line.Metrics != "" && line.Metrics != "0" {
				addrs = append(addrs, line.Metrics)
			}
		}
	}
	return addrs, nil
}

// metricsHTTP bounds a scrape: the webhook answers on loopback in milliseconds.
var metricsHTTP = &http.Client{Timeout: 10 * time.Second}

// ScrapeMetrics returns what the webhook's /metrics at addr serves now; ok is false when
// nothing listens there any more (a webhook a spec stopped).
func ScrapeMetrics(ctx context.Context, addr string) (body []byte, ok bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, false, fmt.Errorf("scrape %s: %w", addr, err)
	}
	resp, err := metricsHTTP.Do(req)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("scrape %s: %w", addr, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, fmt.Errorf("scrape %s: %w", addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	return body, true, nil
}
