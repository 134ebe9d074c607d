package httpclient_test

import (
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/push"

	"github.com/step-metrics/step-metrics/pkg/httpclient"
)

// A client for a Pushgateway behind a private CA that wants a client
// certificate and a bearer token.
func ExampleNew() {
	client, err := httpclient.New(httpclient.Config{
		CAFile:          "/etc/step-metrics/ca.crt",
		CertFile:        "/etc/step-metrics/tls.crt",
		KeyFile:         "/etc/step-metrics/tls.key",
		BearerTokenFile: "/var/run/secrets/pushgateway/token",
		Headers:         http.Header{"X-Scope-Orgid": {"team-ml"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// client is the HTTPDoer behind client_golang's Pusher.
	_ = push.New("https://pushgateway.monitoring:9091", "step-metrics").Client(client)
}

func ExampleParseHeader() {
	name, value, err := httpclient.ParseHeader("x-scope-orgid: team-ml")
	fmt.Printf("%s=%q %v\n", name, value, err)
	_, _, err = httpclient.ParseHeader("Authorization Bearer abc.def")
	fmt.Println(err)
	// Output:
	// X-Scope-Orgid="team-ml" <nil>
	// header "Authorization <redacted>": want "Name: value"
}

// URLs in messages and logs: user info gone, query values hidden, also
// where url.Parse would read "u" as the scheme.
func ExampleRedactURL() {
	fmt.Println(httpclient.RedactURL("u:s3cr3t@pushgateway:9091"))
	fmt.Println(httpclient.RedactURL("https://argo-server:2746/argo/?access_token=s3cr3t"))
	_, err := httpclient.CheckURL("http://u:s3cr3t@pushgateway:9091")
	fmt.Println(err)
	// Output:
	// pushgateway:9091
	// https://argo-server:2746/argo/?access_token=REDACTED
	// "http://pushgateway:9091": put no credentials in the URL; give them in a file
}
