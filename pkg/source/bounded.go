package source

import (
	"fmt"
	"io"
	"net/http"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
	"github.com/step-metrics/step-metrics/pkg/limits"
)

// TooLargeError is a status object larger than a source reads: more
// than limits.Input(), a quarter of the memory the process may use, so
// that decoding it cannot exhaust the container's memory limit and get the
// exit handler OOM-killed.
type TooLargeError struct {
	// Limit is the bound, in bytes.
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("larger than %d MiB, a quarter of the memory limit (raise the step's memory limit to read it)", e.Limit>>20)
}

// boundedReader reads at most limit bytes of r and fails with a
// *TooLargeError, prefixed by what, as soon as there is more; other read
// errors are prefixed by what too. Close closes c, if any (not stdin).
type boundedReader struct {
	r     io.Reader
	c     io.Closer
	what  string
	limit int64
	n     int64
	// size is the size the object is known to have (a file's, a
	// Content-Length), 0 when unknown: readAll allocates it at once.
	size int64
}

// bounded returns r bounded by limit; what names it in errors.
func bounded(r io.Reader, c io.Closer, limit int64, what string) *boundedReader {
	return &boundedReader{r: r, c: c, what: what, limit: limit}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n > b.limit {
		return 0, b.tooLarge()
	}
	// One byte more than the limit, to tell "exactly the limit" from
	// "more".
	if room := b.limit + 1 - b.n; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n - int(b.n-b.limit), b.tooLarge()
	}
	if err != nil && err != io.EOF { //nolint:errorlint // io.EOF is returned as is, never wrapped
		err = fmt.Errorf("%s: %w", b.what, err)
	}
	return n, err
}

func (b *boundedReader) tooLarge() error {
	return fmt.Errorf("%s: %w", b.what, &TooLargeError{Limit: b.limit})
}

func (b *boundedReader) Close() error {
	if b.c == nil {
		return nil
	}
	return b.c.Close()
}

// readAll reads r whole: at most its bound. The buffer is allocated at
// the size when it is known, and otherwise doubles up to the bound and no
// further, so that reading an object holds less than twice the bound at
// once, where io.ReadAll's growth past the bound could take three times.
func readAll(r *boundedReader) ([]byte, error) {
	defer r.Close()
	room := max(r.limit+1-r.n, 1) // the bound, and one byte to see more
	size := min(int64(64<<10), room)
	if r.size > 0 {
		size = min(r.size+1, room) // the one byte more reads the end
	}
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			grown := make([]byte, len(b), min(2*int64(cap(b)), room))
			copy(grown, b)
			b = grown
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF: //nolint:errorlint // io.EOF is returned as is, never wrapped
			return b, nil
		case err != nil:
			return nil, err
		}
	}
}

// apiTransport is the innermost round tripper of the Kubernetes clients
// (under client-go's auth): a redirect is an error, never followed, since
// client-go's bearer-token round tripper would send the token to wherever
// it points; the body of an answer that is not 2xx, which client-go reads
// whole for its Status, is cut to limits.ErrorBody. Bodies of 2xx answers
// are bounded by the caller (boundedReader), which knows the object.
type apiTransport struct{ next http.RoundTripper }

func (t apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if rerr := httpclient.Redirected(resp); rerr != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, limits.ErrorBody))
		_ = resp.Body.Close()
		return nil, rerr
	}
	if resp.StatusCode/100 != 2 {
		resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, limits.ErrorBody), Closer: resp.Body}
	}
	return resp, nil
}

// limitedBody is a response body cut short: reads end early, Close closes
// the whole body.
type limitedBody struct {
	io.Reader
	io.Closer
}
