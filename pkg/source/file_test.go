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

// TestReadFileSizeLimit checks the bound, limits.Input(), on both inputs,
// with the memory limit at 32 MiB (so an 8 MiB bound). The inputs are
// generated (stdin) or sparse (file), so only ReadFile's own buffer costs
// memory or disk.
func TestReadFileSizeLimit(t *testing.T) {
	limit := smallMemory(t)
	limitText := strconv.FormatInt(limit>>20, 10) + " MiB, a quarter of the memory limit"

	t.Run("stdin at the limit", func(t *testing.T) {
		s := &byteStream{n: limit}
		got, err := ReadFile("-", s)
		if err != nil {
			t.Fatalf("ReadFile(%d bytes) error: %v; want the bytes", limit, err)
		}
		if int64(len(got)) != limit {
			t.Errorf("ReadFile returned %d bytes, want %d", len(got), limit)
		}
	})

	t.Run("stdin over the limit", func(t *testing.T) {
		// Far more than the limit: ReadFile must stop reading just past it
		// (an endless stdin would otherwise never end), then refuse.
		s := &byteStream{n: 4 * limit}
		got, err := ReadFile("-", s)
		if err == nil {
			t.Fatalf("ReadFile(%d bytes) = %d bytes, nil error; want a size error", 4*limit, len(got))
		}
		if got != nil {
			t.Errorf("ReadFile returned %d bytes with its error, want none", len(got))
		}
		for _, want := range []string{"stdin", "larger than", limitText} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		var tl *TooLargeError
		if !errors.As(err, &tl) || tl.Limit != limit {
			t.Errorf("error %v is not a *TooLargeError of %d bytes", err, limit)
		}
		if s.read > limit+1 {
			t.Errorf("ReadFile read %d bytes of stdin, want at most the limit + 1 = %d", s.read, limit+1)
		}
	})

	t.Run("file at the limit", func(t *testing.T) {
		got, err := ReadFile(sparseFile(t, limit), notRead{t})
		if err != nil || int64(len(got)) != limit {
			t.Errorf("ReadFile(%d-byte file) = %d bytes, %v; want them all", limit, len(got), err)
		}
	})

	t.Run("file one byte over the limit", func(t *testing.T) {
		path := sparseFile(t, limit+1)
		got, err := ReadFile(path, notRead{t})
		if err == nil {
			t.Fatalf("ReadFile(%d-byte file) = %d bytes, nil error; want a size error", limit+1, len(got))
		}
		for _, want := range []string{path, "larger than", limitText} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})
}

// sparseFile returns the path of a file of size bytes that uses no
// disk.
func sparseFile(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOpenFile: the stream variant reads the same bytes; on stdin, whose
// size is not known up front, it fails past the bound with a
// *TooLargeError naming it, and leaves stdin open; a file known to be too
// large fails at once.
func TestOpenFile(t *testing.T) {
	limit := smallMemory(t)

	path := writeTemp(t, "wf.yaml", example.Workflow)
	r, err := OpenFile(path, notRead{t})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, example.Workflow) {
		t.Errorf("OpenFile(%s): %d bytes, %v; want the file's %d bytes", path, len(got), err, len(example.Workflow))
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	stdin := &closeRecorder{Reader: &byteStream{n: 3 * limit}}
	r, err = OpenFile("-", stdin)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Limit != limit || !strings.Contains(err.Error(), "read workflow from stdin: larger than 8 MiB, a quarter of the memory limit") {
		t.Errorf("OpenFile(-) over the limit: %d bytes read, error %v; want a *TooLargeError of %d bytes", n, err, limit)
	}
	if n != limit {
		t.Errorf("the stream gave %d bytes before its error, want exactly the limit, %d", n, limit)
	}
	if _, err := r.Read(make([]byte, 10)); !errors.As(err, &tl) {
		t.Errorf("Read after the error = %v, want the size error again", err)
	}
	if err := r.Close(); err != nil || stdin.closed {
		t.Errorf("Close = %v, stdin closed %v: want stdin left open", err, stdin.closed)
	}

	// A file known to be too large fails at once.
	big := sparseFile(t, limit+1)
	if r, err := OpenFile(big, nil); err == nil || !errors.As(err, &tl) || !strings.Contains(err.Error(), big) {
		t.Errorf("OpenFile(%d-byte file) = %v, %v; want a *TooLargeError naming the file", limit+1, r, err)
	}
	if _, err := OpenFile(filepath.Join(t.TempDir(), "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("OpenFile(missing) = %v, want os.ErrNotExist", err)
	}
}

// closeRecorder records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
