package schema

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADMETable checks that the README's metric table lists exactly the
// metrics of Definitions, with their types, labels and modes (as
// kube-state-metrics' doccheck does).
func TestREADMETable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(pipeline_[a-z_]+)` \\| (\\w+) \\| ([^|]*) \\| (\\w+) \\| ([^|]+) \\|$")
	rows := row.FindAllStringSubmatch(string(readme), -1)
	documented := map[string][]string{}
	for _, r := range rows {
		if _, dup := documented[r[1]]; dup {
			t.Errorf("README lists %s twice", r[1])
		}
		documented[r[1]] = r[2:]
	}
	for _, d := range Definitions {
		doc, ok := documented[d.Name]
		if !ok {
			t.Errorf("README does not list %s", d.Name)
			continue
		}
		delete(documented, d.Name)
		if doc[0] != d.Type {
			t.Errorf("README: %s type %s, code %s", d.Name, doc[0], d.Type)
		}
		var labels []string
		for _, l := range strings.Split(doc[1], ",") {
			if l = strings.Trim(strings.TrimSpace(l), "`"); l != "" && l != "–" {
				labels = append(labels, l)
			}
		}
		if strings.Join(labels, ",") != strings.Join(d.Labels, ",") {
			t.Errorf("README: %s labels %v, code %v", d.Name, labels, d.Labels)
		}
		mode := string(d.Mode)
		if mode == "" {
			mode = "all"
		}
		if doc[2] != mode {
			t.Errorf("README: %s mode %s, code %s", d.Name, doc[2], mode)
		}
	}
	for name := range documented {
		t.Errorf("README lists %s, which the code does not push", name)
	}
	if len(rows) != len(Definitions) {
		t.Errorf("README table has %d rows, code %d metrics", len(rows), len(Definitions))
	}
}

// TestREADMEReservedLabels: the README's list of reserved labels is
// schema.ReservedLabels, in order.
func TestREADMEReservedLabels(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	i := strings.Index(text, "may use `job`")
	if i < 0 {
		t.Fatal("README: the reserved label list is gone")
	}
	j := strings.Index(text[i:], "(`schema.ReservedLabels`")
	if j < 0 {
		t.Fatal("README: the reserved label list does not end where expected")
	}
	got := regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(text[i:i+j], -1)
	var names []string
	for _, m := range got {
		names = append(names, m[1])
	}
	if strings.Join(names, ",") != strings.Join(ReservedLabels, ",") {
		t.Errorf("README reserves %v, code %v", names, ReservedLabels)
	}
}
