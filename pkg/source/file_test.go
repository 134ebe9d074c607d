package source

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/step-metrics/step-metrics/internal/example"
)

// xs is what a byteStream copies from: one copy is one range access for the
// race detector, where a per-byte loop over 1 GiB takes minutes.
var xs = bytes.Repeat([]byte{'x'}, 32<<10)

// byteStream yields n bytes of 'x' without holding them: the test's side of
// a size-limit check costs no memory, only the reader under test's buffer.
type byteStream struct {
	n    int64 // bytes left to yield
	read int64 // bytes yielded so far
}

func (s *byteStream) Read(p []byte) (int, error) {
	if s.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > s.n {
		p = p[:s.n]
	}
	for i := 0; i < len(p); {
		i += copy(p[i:], xs)
	}
	s.n -= int64(len(p))
	s.read += int64(len(p))
	return len(p), nil
}

// failingReader yields some bytes, then an error.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// notRead fails the test if ReadFile reads stdin for a path that is not "-".
type notRead struct{ t *testing.T }

func (r notRead) Read([]byte) (int, error) {
	r.t.Error("stdin read although the path is not \"-\"")
	return 0, io.EOF
}

func TestReadFilePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wf.yaml")
	if err := os.WriteFile(path, example.Workflow, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path, notRead{t})
	if err != nil {
		t.Fatalf("ReadFile(%s): %v", path, err)
	}
	if !bytes.Equal(got, example.Workflow) {
		t.Errorf("ReadFile(%s) = %d bytes, want the file's %d bytes unchanged", path, len(got), len(example.Workflow))
	}
}

func TestReadFileEmpty(t *testing.T) {
	// An empty file is not ReadFile's business: it returns no bytes and no
	// error, and the decoder says what is wrong with an empty object.
	path := filepath.Join(t.TempDir(), "empty.json")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("ReadFile(empty file) = %q, %v; want no bytes, no error", got, err)
	}
}

func TestReadFileStdin(t *testing.T) {
	// A file named "-" in the working directory must not win over stdin.
	t.Chdir(t.TempDir())
	if err := os.WriteFile("-", []byte("the file named -"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile("-", bytes.NewReader(example.Workflow))
	if err != nil {
		t.Fatalf("ReadFile(-): %v", err)
	}
	if !bytes.Equal(got, example.Workflow) {
		t.Errorf("ReadFile(-) = %.40q..., want stdin's bytes", got)
	}
}

func TestReadFileStdinError(t *testing.T) {
	broken := errors.New("broken pipe")
	_, err := ReadFile("-", &failingReader{data: []byte("apiVersion: argoproj.io/v1alpha1\n"), err: broken})
	if !errors.Is(err, broken) {
		t.Fatalf("ReadFile(-) error = %v, want it to wrap %v", err, broken)
	}
	if !strings.Contains(err.Error(), "stdin") {
		t.Errorf("error %q does not say it was reading stdin", err)
	}
}

func TestReadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no-such-dir", "wf.yaml")
	_, err := ReadFile(path, notRead{t})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile(missing) error = %v, want os.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path %s", err, path)
	}
}

func TestReadFileDirectory(t *testing.T) {
	dir := t.TempDir()
	got, err := ReadFile(dir, notRead{t})
	if err == nil {
		t.Fatalf("ReadFile(directory) = %d bytes, nil error; want an error", len(got))
	}
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the directory %s", err, dir)
	}
	if !strings.Contains(err.Error(), "directory") {
		t.Errorf("error %q does not say the path is a directory", err)
	}
}

// TestReadFileSizeLimit checks MaxObjectSize on both inputs. The inputs are
// generated (stdin) or sparse (file), so only ReadFile's own buffer costs
// memory or disk. Each case still makes ReadFile buffer 256 MiB: about 0.4 s
// each, but 4 s under the race detector, which then runs only the case the
// limit exists for (these cases share no goroutines).
func TestReadFileSizeLimit(t *testing.T) {
	limitText := strconv.Itoa(MaxObjectSize>>20) + " MiB"
	skipUnderRace := func(t *testing.T) {
		t.Helper()
		if raceEnabled {
			t.Skip("256 MiB through the race detector takes seconds; runs without -race (make test)")
		}
	}

	t.Run("stdin at the limit", func(t *testing.T) {
		skipUnderRace(t)
		s := &byteStream{n: MaxObjectSize}
		got, err := ReadFile("-", s)
		if err != nil {
			t.Fatalf("ReadFile(%d bytes) error: %v; want the bytes", MaxObjectSize, err)
		}
		if len(got) != MaxObjectSize {
			t.Errorf("ReadFile returned %d bytes, want %d", len(got), MaxObjectSize)
		}
	})

	t.Run("stdin over the limit", func(t *testing.T) {
		// Far more than the limit: ReadFile must stop reading just past it
		// (an endless stdin would otherwise never end), then refuse.
		s := &byteStream{n: 4 * MaxObjectSize}
		got, err := ReadFile("-", s)
		if err == nil {
			t.Fatalf("ReadFile(%d bytes) = %d bytes, nil error; want a size error", 4*MaxObjectSize, len(got))
		}
		if got != nil {
			t.Errorf("ReadFile returned %d bytes with its error, want none", len(got))
		}
		for _, want := range []string{"stdin", "larger than", limitText} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if s.read > MaxObjectSize+1 {
			t.Errorf("ReadFile read %d bytes of stdin, want at most MaxObjectSize+1 = %d", s.read, MaxObjectSize+1)
		}
	})

	t.Run("file one byte over the limit", func(t *testing.T) {
		skipUnderRace(t)
		path := filepath.Join(t.TempDir(), "huge.json")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(MaxObjectSize + 1); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFile(path, notRead{t})
		if err == nil {
			t.Fatalf("ReadFile(%d-byte file) = %d bytes, nil error; want a size error", MaxObjectSize+1, len(got))
		}
		for _, want := range []string{path, "larger than", limitText} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})
}
