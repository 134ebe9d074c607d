package testenv

import (
	"net/http"
	"strings"
	"testing"
)

func TestStartPushgateway(t *testing.T) {
	pg := StartPushgateway(t, PushgatewayOptions{})
	req, _ := http.NewRequest(http.MethodPut, pg.URL+"/metrics/job/j/instance/i", strings.NewReader("# TYPE x gauge\nx 3\n"))
	resp, err := pg.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("push: %s", resp.Status)
	}
	s := Series(pg.Scrape(t), "x", map[string]string{"job": "j", "instance": "i"})
	if len(s) != 1 || s[0].Value != 3 {
		t.Fatalf("x = %+v", s)
	}
	gs := pg.Groups(t)
	if len(gs) != 1 || gs[0].Labels["job"] != "j" || !gs[0].LastPushSuccessful || gs[0].PushTime == 0 {
		t.Fatalf("groups = %+v", gs)
	}
	pg.Wipe(t)
	if gs := pg.Groups(t); len(gs) != 0 {
		t.Fatalf("after wipe: %+v", gs)
	}
}

func TestStartPushgatewayTLS(t *testing.T) {
	ca := NewCA(t, "server")
	clients := NewCA(t, "clients")
	pg := StartPushgateway(t, PushgatewayOptions{TLS: ca, ClientCA: clients})
	if !strings.HasPrefix(pg.URL, "https://") {
		t.Fatal(pg.URL)
	}
	pg.Scrape(t) // with the client certificate
	// Without a client certificate the handshake is refused.
	plain := &http.Client{Transport: &http.Transport{TLSClientConfig: pg.Client.Transport.(*http.Transport).TLSClientConfig.Clone()}}
	plain.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	if resp, err := plain.Get(pg.URL + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatal("mTLS Pushgateway answered a client without a certificate")
	}
}
