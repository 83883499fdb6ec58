package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/vault-injector/vault-injector/bench/report"
)

// podStartSection runs bench/cmd/podstart on a real node (it needs root for containerd,
// the kubelet and the bridge) and folds its figures and target into the report.
func podStartSection(ctx context.Context, o *options, res *report.Results, stdout io.Writer) error {
	if os.Geteuid() != 0 {
		res.Notes = append(res.Notes, "pod start not measured: the real node needs root")
		return nil
	}
	args := []string{"run", "./bench/cmd/podstart", "-json", "-runs", "20"}
	res.Commands = append(res.Commands, "go "+fmt.Sprint(args))
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.root
	cmd.Stdout, cmd.Stderr = &out, stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("podstart: %w", err)
	}
	var p report.PodStart
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		return fmt.Errorf("podstart output: %w", err)
	}
	res.PodStart = &p
	res.Targets = append(res.Targets, report.EvaluatePodStart(&p)...)
	return nil
}
