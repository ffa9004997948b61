// promlint-sluice reads a Prometheus text exposition on stdin, parses it with
// the parser Prometheus itself uses (prometheus/common/expfmt) and lints it
// with promlint (what `promtool check metrics` runs). Exit 1 on a parse error
// or any lint problem, each printed on stderr; on success it prints the
// families it read, one "name type samples" line each.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func main() {
	text, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "read:", err)
		os.Exit(2)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		fmt.Fprintln(os.Stderr, "parse:", err)
		os.Exit(1)
	}
	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil {
		fmt.Fprintln(os.Stderr, "lint:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "lint: %s: %s\n", p.Metric, p.Text)
	}
	names := make([]string, 0, len(families))
	for name := range families {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		f := families[name]
		fmt.Printf("%s %s %d\n", name, f.GetType().String(), len(f.GetMetric()))
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}
