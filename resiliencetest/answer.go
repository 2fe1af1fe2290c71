package resiliencetest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"time"
)

// answer is a response before it is sent: what the fault or the Handler
// says to answer.
type answer struct {
	status int
	header http.Header
	body   string
}

// normalBody is the body of the normal answer when there is no Handler.
const normalBody = "ok"

// ownAnswer returns the answer of a fault that needs no Handler: its own,
// or the normal answer, 200 "ok".
func ownAnswer(f Fault) answer {
	a := answer{status: http.StatusOK, header: make(http.Header, len(f.Header)+3), body: normalBody}
	if f.answersItself() {
		a.status, a.body = f.status(), f.Body
	}
	addHeader(a.header, f.Header)
	return a
}

// recordAnswer runs h on the request (whose body has been read) and returns
// its answer, with the fault's headers added before h ran.
func recordAnswer(h http.Handler, f Fault, r *http.Request) answer {
	w := httptest.NewRecorder()
	addHeader(w.Header(), f.Header)
	h.ServeHTTP(w, r)
	res := w.Result()
	return answer{status: res.StatusCode, header: res.Header, body: w.Body.String()}
}

// addHeader adds the fields of from to h, in canonical form.
func addHeader(h, from http.Header) {
	for k, vs := range from {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
}

// handlerRequest returns r as a Handler sees it, its body the bytes already
// read from it.
func handlerRequest(r *http.Request, body []byte) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.GetBody = nil
	return r2
}

// readBody reads and closes the request's body, as a transport or a server
// does. It returns nil for an empty body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, nil
	}
	b, err := io.ReadAll(r.Body)
	if cerr := r.Body.Close(); err == nil {
		err = cerr
	}
	if len(b) == 0 {
		b = nil
	}
	return b, err
}

// wait waits for d, or until ctx is done or stop is closed, and reports
// whether d passed. A negative d waits until ctx or stop ends it.
func wait(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	if d == 0 {
		return ctx.Err() == nil
	}
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
