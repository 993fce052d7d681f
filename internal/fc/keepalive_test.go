package fc_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingtalk-llm/fcrobot/internal/fc"
)

// TestConcurrentCallsKeepTheirConnections: an instance serving many
// messages at once makes as many calls at once, and the connections they
// opened carry the next burst too, instead of being closed and dialed (on
// FC, TLS-handshaken) again for each call.
func TestConcurrentCallsKeepTheirConnections(t *testing.T) {
	const concurrency = 20
	var opened atomic.Int64
	arrived := make(chan struct{}, concurrency)
	release := make(chan struct{})
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hold each call until the whole burst is in flight, so that the
		// burst needs a connection per call.
		arrived <- struct{}{}
		<-release
		w.Header().Set(fc.HeaderRequestID, "req")
		w.WriteHeader(http.StatusAccepted)
	}))
	api.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			opened.Add(1)
		}
	}
	api.Start()
	defer api.Close()
	inv, err := fc.NewInvoker(fc.InvokerConfig{Endpoint: api.URL})
	if err != nil {
		t.Fatal(err)
	}

	burst := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, concurrency)
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := inv.InvokeAsync(context.Background(), stsCreds, "reply", []byte(`{}`), "")
				errs <- err
			}()
		}
		timeout := time.After(time.Minute) // a safety limit, not a measurement
		for range concurrency {
			select {
			case <-arrived:
			case <-timeout:
				t.Fatal("the burst never reached the endpoint")
			}
		}
		for range concurrency {
			release <- struct{}{}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// release is unbuffered: the handlers take their release one by one.
	burst()
	first := opened.Load()
	burst()
	if again := opened.Load() - first; again != 0 {
		t.Errorf("the second burst of %d calls opened %d new connections (the first opened %d), want 0", concurrency, again, first)
	}
}
