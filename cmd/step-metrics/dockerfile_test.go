package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfileBuild runs the Dockerfile's own `go build` line (no Docker
// engine runs here) and checks what the image would hold: a static binary
// that runs with an empty environment, stamped with the version, as the
// non-root user the templates expect.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds the binary")
	}
	f, err := os.Open("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var build, user, entrypoint, copyBin string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			build = strings.TrimPrefix(line, "RUN ")
		case strings.HasPrefix(line, "USER "):
			user = strings.TrimPrefix(line, "USER ")
		case strings.HasPrefix(line, "ENTRYPOINT "):
			entrypoint = strings.TrimPrefix(line, "ENTRYPOINT ")
		case strings.HasPrefix(line, "COPY --from=build "):
			copyBin = line
		}
	}
	if build == "" {
		t.Fatal("no RUN ... go build line in the Dockerfile")
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (non-root, as templates' runAsUser)", user)
	}
	if entrypoint != `["/step-metrics"]` || !strings.HasSuffix(copyBin, " /step-metrics") {
		t.Errorf("the image's binary must be /step-metrics (the templates' command): ENTRYPOINT %s, %s", entrypoint, copyBin)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-s -w"} {
		if !strings.Contains(build, want) {
			t.Errorf("build line lacks %s: %s", want, build)
		}
	}
	out := filepath.Join(t.TempDir(), "out")
	cmdline := strings.ReplaceAll(build, "/out/", out+"/")
	cmdline = strings.ReplaceAll(cmdline, "${VERSION}", "v9.9.9-test")
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	bin := filepath.Join(out, "step-metrics")
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary is dynamically linked (%v)", p.Type)
		}
	}
	if ef.Section(".symtab") != nil {
		t.Error("binary is not stripped (-s)")
	}
	run := exec.Command(bin, "version")
	run.Env = []string{}
	b, err := run.CombinedOutput()
	if err != nil || strings.TrimSpace(string(b)) != "step-metrics v9.9.9-test" {
		t.Errorf("version with an empty environment: %q, %v", b, err)
	}
	run = exec.Command(bin, "push", "--example", "--dry-run")
	run.Env = []string{}
	b, err = run.Output()
	if err != nil || !regexp.MustCompile(`(?m)^pipeline_run_duration_seconds\{`).Match(b) {
		t.Errorf("example with an empty environment: %v\n%s", err, b)
	}
	if fi, _ := os.Stat(bin); fi != nil {
		t.Logf("binary: %.1f MB", float64(fi.Size())/1e6)
	}
}
