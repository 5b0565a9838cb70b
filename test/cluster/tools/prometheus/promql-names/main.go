// Command promql-names parses PromQL queries with Prometheus's own parser and prints the metric
// names each one selects, so a test can check a dashboard's queries against a real scrape.
//
// Input (stdin): a JSON array of queries. Output (stdout): a JSON array, one entry per query,
// {"query": ..., "metrics": [...]} or {"query": ..., "error": ...}. A selector without a
// metric name (e.g. {job="x"}) is reported as an error: every panel must name its metric.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Query   string   `json:"query"`
	Metrics []string `json:"metrics,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func names(p parser.Parser, query string) ([]string, error) {
	expr, err := p.ParseExpr(query)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var missing error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			missing = fmt.Errorf("selector %s names no metric", vs.String())
			return nil
		}
		seen[name] = true
		return nil
	})
	if missing != nil {
		return nil, missing
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out, nil
}

func main() {
	var queries []string
	if err := json.NewDecoder(os.Stdin).Decode(&queries); err != nil {
		fmt.Fprintf(os.Stderr, "promql-names: stdin must be a JSON array of strings: %v\n", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	results := make([]result, 0, len(queries))
	for _, q := range queries {
		metrics, err := names(p, q)
		r := result{Query: q, Metrics: metrics}
		if err != nil {
			r.Error = err.Error()
		}
		results = append(results, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(results); err != nil {
		fmt.Fprintf(os.Stderr, "promql-names: %v\n", err)
		os.Exit(1)
	}
}
