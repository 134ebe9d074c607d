// Package faultproxy is a TCP proxy for tests that sits in front of a real
// server (a Pushgateway, an apiserver) and injects one fault per
// connection: refuse, reset, black-hole, answer with an HTTP status of its
// own, delay, or cut the server's answer short. Connections it lets
// through are spliced byte for byte, so TLS passes through untouched.
//
//	p := faultproxy.Start(t, pg.Addr, faultproxy.Sequence(
//		faultproxy.Action{Kind: faultproxy.Respond, Status: 503},
//		faultproxy.Action{Kind: faultproxy.Pass}))
//	// point the client at "http://" + p.Addr
package faultproxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind is what the proxy does with one connection.
type Kind int

const (
	// Pass splices the connection to the target (after Delay).
	Pass Kind = iota
	// Reset accepts and closes at once with an RST.
	Reset
	// BlackHole accepts, reads everything, never answers.
	BlackHole
	// Respond reads one HTTP request (head and body) and answers it with
	// Status and Body itself, then closes; the target never sees it.
	Respond
	// CutResponse forwards the connection but closes it after the first
	// CutAfter bytes of the target's answer: the server acted on the
	// request, the client never learns.
	CutResponse
)

func (k Kind) String() string {
	switch k {
	case Pass:
		return "pass"
	case Reset:
		return "reset"
	case BlackHole:
		return "black hole"
	case Respond:
		return "respond"
	case CutResponse:
		return "cut response"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Action is the fault for one connection.
type Action struct {
	Kind Kind
	// Delay is waited before acting (a slow network).
	Delay time.Duration
	// Status and Body are Respond's answer.
	Status int
	Body   string
	// CutAfter is how many bytes of the answer CutResponse lets through.
	CutAfter int
}

// Plan picks the action for the n-th connection (0-based).
type Plan func(n int) Action

// Always is a Plan that does a for every connection.
func Always(a Action) Plan { return func(int) Action { return a } }

// Sequence is a Plan that does as[n] for the n-th connection and the last
// action for all later ones.
func Sequence(as ...Action) Plan {
	return func(n int) Action {
		if n >= len(as) {
			n = len(as) - 1
		}
		return as[n]
	}
}

// Proxy is a running fault proxy. Its methods are safe for concurrent use.
type Proxy struct {
	// Addr is the proxy's host:port.
	Addr   string
	target string

	mu      sync.Mutex
	plan    Plan
	ln      net.Listener
	conns   map[net.Conn]bool
	n       int
	actions []Kind
	closed  bool
	stopped chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// Start listens on a free loopback port and proxies to target (host:port)
// according to plan. It stops when the test ends.
func Start(t testing.TB, target string, plan Plan) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, plan: plan, conns: map[net.Conn]bool{}, stopped: make(chan struct{})}
	p.serve(ln)
	t.Cleanup(p.Close)
	return p
}

// SetPlan replaces the plan for the connections to come.
func (p *Proxy) SetPlan(plan Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.plan = plan
}

// Connections returns the actions taken so far, one per connection.
func (p *Proxy) Connections() []Kind {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Kind(nil), p.actions...)
}

// Down closes the listener: connections to Addr are refused (nothing
// listens) until Up. Open connections are closed too.
func (p *Proxy) Down() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Up listens on Addr again after Down.
func (p *Proxy) Up() error {
	ln, err := net.Listen("tcp", p.Addr)
	if err != nil {
		return err
	}
	p.serve(ln)
	return nil
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stopped)
	}
	p.mu.Unlock()
	p.Down()
	p.wg.Wait()
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				c.Close()
				return
			}
			a := p.plan(p.n)
			p.n++
			p.actions = append(p.actions, a.Kind)
			p.conns[c] = true
			p.wg.Add(1)
			p.mu.Unlock()
			go func() {
				defer p.wg.Done()
				p.handle(c, a)
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
				c.Close()
			}()
		}
	}()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) handle(c net.Conn, a Action) {
	if a.Delay > 0 {
		// The client's bytes wait in the socket; Close ends the wait.
		timer := time.NewTimer(a.Delay)
		select {
		case <-timer.C:
		case <-p.stopped:
			timer.Stop()
			return
		}
	}
	switch a.Kind {
	case Reset:
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	case BlackHole:
		_, _ = io.Copy(io.Discard, c)
	case Respond:
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		status := a.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			status, http.StatusText(status), len(a.Body), a.Body)
	case Pass, CutResponse:
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			return
		}
		if !p.track(up) {
			up.Close()
			return
		}
		defer p.untrack(up)
		defer up.Close()
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(up, c)
			if tc, ok := up.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			close(done)
		}()
		var from io.Reader = up
		if a.Kind == CutResponse {
			from = io.LimitReader(up, int64(a.CutAfter))
		}
		_, _ = io.Copy(c, from)
		if a.Kind == CutResponse {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
			up.Close()
		}
		<-done
	}
}

// Answer is a Respond action with status and a body.
func Answer(status int, body string) Action {
	return Action{Kind: Respond, Status: status, Body: body}
}

// String describes the actions taken, for test messages.
func (p *Proxy) String() string {
	var parts []string
	for _, k := range p.Connections() {
		parts = append(parts, k.String())
	}
	return fmt.Sprintf("proxy %s -> %s: %d connections [%s]", p.Addr, p.target, len(parts), strings.Join(parts, ", "))
}
