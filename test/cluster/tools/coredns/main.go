// CoreDNS for the real node, with only the plugins the test cluster's DNS needs: it answers
// the cluster zone from the API server (kubernetes), reports health and readiness, caches, and
// logs errors. Upstream's main imports every plugin (cloud DNS providers included); selecting
// them here keeps the build small. Directives run in the order given, as in plugin.cfg.
package main

import (
	"fmt"
	"os"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	if err := dnsserver.SetDirectives([]string{"errors", "log", "health", "ready", "cache", "loadbalance", "kubernetes"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	coremain.Run()
}
