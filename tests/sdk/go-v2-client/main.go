// Command go-v2-client runs a 2026-07-28 (stateless) MCP session with the official Go SDK
// (github.com/modelcontextprotocol/go-sdk v1.7.0: mcp.Client + mcp.StreamableClientTransport)
// against the "v2 session" contract of tests/conformance/scenario-server-v2.mjs (directly or
// through the sidecar), writing a normalised JSON transcript so two runs can be compared with
// diff. It mirrors tests/sdk/ts-v2-client.mjs (modern mode).
//
// Usage: go-v2-client URL [--token T] [--out FILE] [--steps a,b,...] [--timeout-ms N]
//
//	URL       MCP endpoint, e.g. http://127.0.0.1:3001/mcp
//	--token   sent as "Authorization: Bearer T" on every HTTP request (default $MT_BEARER_TOKEN)
//	--out     transcript file (default: stdout)
//	--steps   run only these steps, in the order given (default: all, in the order below)
//	--timeout-ms  per-request timeout (default 30000); the whole run is bounded by 4x that
//
// Steps: discover (server/discover), tools_list, resources_list, prompts_list, prompt_get
// (v2_greet name=mcptrail), echo (v2_echo "hello v2"), deploy (v2_deploy payments 1.2.3: the
// server answers input_required with one elicitation; the handler accepts with {confirm:true};
// the SDK's multi-round-trip middleware retries with inputResponses + requestState), listen
// (subscriptions/listen for demo://counter via ClientSession.Subscribe; the honoured filter is
// taken from notifications/subscriptions/acknowledged), bump (v2_bump), notified (waits up to
// 10 s for notifications/resources/updated demo://counter), read (resources/read
// demo://counter), close (ClientSession.Unsubscribe: cancels the listen stream).
//
// Connect is pinned to 2026-07-28: Client.Connect probes with server/discover, and a sending
// middleware refuses the SDK's fallback to the legacy initialize handshake. Exit 1 if any step
// (or the connect) fails, 2 on a usage error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const (
	sdkModule     = "github.com/modelcontextprotocol/go-sdk"
	sdkVersionPin = "1.7.0"
	protocolPin   = "2026-07-28"
	counterURI    = "demo://counter"
)

var modernSteps = []string{"discover", "tools_list", "resources_list", "prompts_list", "prompt_get", "echo", "deploy",
	"listen", "bump", "notified", "read", "close"}

// ---- normalisation (same rules as ts-v2-client.mjs) ----

var (
	uuidRE = regexp.MustCompile(`(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	isoRE  = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?`)
	idKeys = map[string]bool{"progressToken": true, "sessionId": true, "requestId": true, "requestState": true,
		"io.modelcontextprotocol/subscriptionId": true}
)

func norm(v any) any {
	switch t := v.(type) {
	case string:
		return isoRE.ReplaceAllString(uuidRE.ReplaceAllString(t, "<uuid>"), "<timestamp>")
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = norm(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			if idKeys[k] {
				out[k] = "<id>"
			} else {
				out[k] = norm(e)
			}
		}
		return out
	default:
		return v
	}
}

// generic turns any JSON-marshalable value into plain maps/slices/json.Number.
func generic(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return decodeGeneric(data)
}

func decodeGeneric(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func mustGeneric(v any) any {
	g, err := generic(v)
	if err != nil {
		return map[string]any{"unmarshalable": err.Error()}
	}
	return g
}

// ---- HTTP layer: bearer token + a record of every POSTed JSON-RPC message ----

type recorder struct {
	mu    sync.Mutex
	posts []map[string]any // decoded POST bodies, in send order
	// listen streams: one entry per subscriptions/listen POST whose response came back
	listens []*listenBody
}

type listenBody struct {
	io.ReadCloser
	mu       sync.Mutex
	eof      bool // the server ended the stream before the client closed it
	closed   bool
	closedCh chan struct{}
}

func (b *listenBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.mu.Lock()
		b.eof = true
		b.mu.Unlock()
	}
	return n, err
}

func (b *listenBody) Close() error {
	err := b.ReadCloser.Close()
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.closedCh)
	}
	b.mu.Unlock()
	return err
}

type roundTripper struct {
	token string
	base  http.RoundTripper
	rec   *recorder
}

func (rt *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if rt.token != "" {
		r.Header.Set("Authorization", "Bearer "+rt.token)
	}
	isListen := false
	if req.Method == http.MethodPost && req.Body != nil {
		data, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		if g, err := decodeGeneric(data); err == nil {
			if m, ok := g.(map[string]any); ok {
				rt.rec.mu.Lock()
				rt.rec.posts = append(rt.rec.posts, m)
				rt.rec.mu.Unlock()
				isListen = m["method"] == "subscriptions/listen"
			}
		}
	}
	resp, err := rt.base.RoundTrip(r)
	if err == nil && isListen {
		lb := &listenBody{ReadCloser: resp.Body, closedCh: make(chan struct{})}
		resp.Body = lb
		rt.rec.mu.Lock()
		rt.rec.listens = append(rt.rec.listens, lb)
		rt.rec.mu.Unlock()
	}
	return resp, err
}

func (rec *recorder) postCount() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.posts)
}

func (rec *recorder) postsFrom(i int) []map[string]any {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.posts[i:])
}

func (rec *recorder) listenCount() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.listens)
}

func (rec *recorder) listensFrom(i int) []*listenBody {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.listens[i:])
}

// ---- session state fed by SDK handlers ----

type state struct {
	mu          sync.Mutex
	elicitSeen  []map[string]any
	updates     []string
	updatesCh   chan struct{} // signalled (non-blocking) on each resources/updated
	acks        []mcp.NotificationSubscriptions
	acksCh      chan struct{}
	discoverErr error // last server/discover error, for the connect failure message
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func textOf(r *mcp.CallToolResult) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	for _, c := range r.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func compact(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

var digits = regexp.MustCompile(`^\d+$`)

func sdkVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == sdkModule {
				if d.Replace != nil && d.Replace.Version != "" {
					return strings.TrimPrefix(d.Replace.Version, "v")
				}
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return sdkVersionPin
}

func errorObject(err error) any {
	o := map[string]any{"message": err.Error()}
	var werr *jsonrpc.Error
	if errors.As(err, &werr) {
		o["code"] = werr.Code
	}
	return norm(o)
}

func usage(msg string) {
	if msg != "" {
		fmt.Fprintf(os.Stderr, "go-v2-client: %s\n", msg)
	}
	fmt.Fprintln(os.Stderr, "usage: go-v2-client URL [--token T] [--out FILE] [--steps a,b,...] [--timeout-ms N]")
	os.Exit(2)
}

func main() {
	var url, out, stepsArg string
	token := os.Getenv("MT_BEARER_TOKEN")
	timeoutMs := 30000
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 >= len(args) {
				usage("missing value for " + a)
			}
			i++
			return args[i]
		}
		switch {
		case a == "--token":
			token = next()
		case a == "--out":
			out = next()
		case a == "--steps":
			stepsArg = next()
		case a == "--timeout-ms":
			v := next()
			if _, err := fmt.Sscanf(v, "%d", &timeoutMs); err != nil || timeoutMs <= 0 {
				usage("bad --timeout-ms " + v)
			}
		case url == "" && !strings.HasPrefix(a, "--"):
			url = a
		default:
			usage("unknown argument " + a)
		}
	}
	if url == "" {
		usage("")
	}
	steps := modernSteps
	if stepsArg != "" {
		steps = nil
		for _, s := range strings.Split(stepsArg, ",") {
			if s = strings.TrimSpace(s); s != "" {
				steps = append(steps, s)
			}
		}
	}
	for _, s := range steps {
		if !slices.Contains(modernSteps, s) {
			fmt.Fprintf(os.Stderr, "go-v2-client: unknown step %s (known: %s)\n", s, strings.Join(modernSteps, ","))
			os.Exit(2)
		}
	}
	timeout := time.Duration(timeoutMs) * time.Millisecond
	time.AfterFunc(4*timeout, func() {
		fmt.Fprintln(os.Stderr, "go-v2-client: overall deadline passed")
		os.Exit(1)
	})

	transcript := map[string]any{"client": "go-sdk-v2", "sdk_version": sdkVersion(), "protocol": "", "steps": []any{}}
	stepsOut := []any{}
	failed := 0

	rec := &recorder{}
	st := &state{updatesCh: make(chan struct{}, 1), acksCh: make(chan struct{}, 1)}
	httpClient := &http.Client{Transport: &roundTripper{token: token, base: http.DefaultTransport, rec: rec}}

	client := mcp.NewClient(&mcp.Implementation{Name: "mcptrail-go-v2-client", Version: "1.0.0"}, &mcp.ClientOptions{
		// Only form elicitation (no roots: a non-nil Capabilities replaces the SDK's roots default).
		Capabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{Form: &mcp.FormElicitationCapabilities{}}},
		ElicitationHandler: func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			seen := map[string]any{"message": req.Params.Message}
			if req.Params.Mode != "" {
				seen["mode"] = req.Params.Mode
			}
			if req.Params.RequestedSchema != nil {
				seen["requestedSchema"] = mustGeneric(req.Params.RequestedSchema)
			}
			st.mu.Lock()
			st.elicitSeen = append(st.elicitSeen, seen)
			st.mu.Unlock()
			if req.Params.Mode == "url" {
				return &mcp.ElicitResult{Action: "decline"}, nil
			}
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}, nil
		},
		ResourceUpdatedHandler: func(ctx context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			st.mu.Lock()
			st.updates = append(st.updates, req.Params.URI)
			st.mu.Unlock()
			signal(st.updatesCh)
		},
	})
	// Pin 2026-07-28: refuse the SDK's legacy initialize fallback (Client.Connect sends
	// "initialize" with 2025-11-25 when server/discover fails).
	client.AddSendingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "initialize" {
				st.mu.Lock()
				derr := st.discoverErr
				st.mu.Unlock()
				if derr == nil {
					derr = errors.New("no usable 2026-07-28 result")
				}
				return nil, fmt.Errorf("pinned to %s: refusing the legacy initialize fallback after server/discover failed: %w", protocolPin, derr)
			}
			res, err := next(ctx, method, req)
			if method == "server/discover" {
				st.mu.Lock()
				st.discoverErr = err
				st.mu.Unlock()
			}
			return res, err
		}
	})
	// The SDK swallows notifications/subscriptions/acknowledged (Client.callSubscriptionsAckHandler);
	// observe it here for the honoured filter.
	client.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "notifications/subscriptions/acknowledged" {
				if p, ok := req.GetParams().(*mcp.SubscriptionsAcknowledgedParams); ok && p != nil {
					st.mu.Lock()
					st.acks = append(st.acks, p.Notifications)
					st.mu.Unlock()
					signal(st.acksCh)
				}
			}
			return next(ctx, method, req)
		}
	})

	finish := func() {
		transcript["steps"] = stepsOut
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		if err := enc.Encode(norm(transcript)); err != nil {
			fmt.Fprintf(os.Stderr, "go-v2-client: encoding transcript: %v\n", err)
			os.Exit(1)
		}
		if out != "" {
			if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
				fmt.Fprintf(os.Stderr, "go-v2-client: %v\n", err)
				os.Exit(1)
			}
		} else {
			os.Stdout.Write(buf.Bytes())
		}
		fmt.Fprintf(os.Stderr, "go-v2-client: %d steps, %d failed\n", len(stepsOut), failed)
		if failed > 0 {
			os.Exit(1)
		}
		os.Exit(0)
	}

	transport := &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: httpClient}
	cctx, ccancel := context.WithTimeout(context.Background(), timeout)
	cs, err := client.Connect(cctx, transport, nil)
	ccancel()
	if err == nil && cs.InitializeResult().ProtocolVersion != protocolPin {
		err = fmt.Errorf("negotiated protocol %q, not %s", cs.InitializeResult().ProtocolVersion, protocolPin)
		cs.Close()
	}
	if err != nil {
		failed++
		stepsOut = append(stepsOut, map[string]any{"step": "connect", "error": errorObject(err)})
		fmt.Fprintf(os.Stderr, "go-v2-client: connect failed: %v\n", err)
		finish()
	}
	transcript["protocol"] = cs.InitializeResult().ProtocolVersion

	var subscribed bool
	var listenFirst int // index into rec.listens of the listen step's stream(s)
	var bumped string
	var bumpedSet bool

	impl := map[string]func(ctx context.Context, s map[string]any) (any, error){
		"discover": func(ctx context.Context, _ map[string]any) (any, error) {
			// No public Discover method: Client.discover is unexported. server/discover is a
			// standard method in the client's send table, so CallCustomMethod can send it
			// (with the SEP-2575 _meta triple injected).
			return mcp.CallCustomMethod[*mcp.DiscoverParams, *mcp.DiscoverResult](ctx, cs, "server/discover", &mcp.DiscoverParams{})
		},
		"tools_list": func(ctx context.Context, _ map[string]any) (any, error) {
			return cs.ListTools(ctx, &mcp.ListToolsParams{})
		},
		"resources_list": func(ctx context.Context, _ map[string]any) (any, error) {
			return cs.ListResources(ctx, &mcp.ListResourcesParams{})
		},
		"prompts_list": func(ctx context.Context, _ map[string]any) (any, error) {
			return cs.ListPrompts(ctx, &mcp.ListPromptsParams{})
		},
		"prompt_get": func(ctx context.Context, _ map[string]any) (any, error) {
			return cs.GetPrompt(ctx, &mcp.GetPromptParams{Name: "v2_greet", Arguments: map[string]string{"name": "mcptrail"}})
		},
		"echo": func(ctx context.Context, _ map[string]any) (any, error) {
			r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "v2_echo", Arguments: map[string]any{"message": "hello v2"}})
			if err != nil {
				return nil, err
			}
			if textOf(r) != "hello v2" {
				return nil, fmt.Errorf("unexpected echo %s", compact(r))
			}
			return r, nil
		},
		"deploy": func(ctx context.Context, s map[string]any) (any, error) {
			first := rec.postCount()
			st.mu.Lock()
			seen := len(st.elicitSeen)
			st.mu.Unlock()
			r, callErr := cs.CallTool(ctx, &mcp.CallToolParams{Name: "v2_deploy",
				Arguments: map[string]any{"service": "payments", "version": "1.2.3"}})
			roundParams := []any{}
			for _, m := range rec.postsFrom(first) {
				p, _ := m["params"].(map[string]any)
				if m["method"] != "tools/call" || p == nil || p["name"] != "v2_deploy" {
					continue
				}
				ir, ok := p["inputResponses"]
				if !ok {
					ir = nil
				}
				_, rs := p["requestState"]
				roundParams = append(roundParams, map[string]any{"inputResponses": ir, "requestStateSent": rs})
			}
			s["rounds"] = len(roundParams)
			s["round_params"] = norm(roundParams)
			st.mu.Lock()
			el := []any{}
			for _, e := range st.elicitSeen[seen:] {
				el = append(el, e)
			}
			st.mu.Unlock()
			s["elicitations"] = norm(el)
			if callErr != nil {
				return nil, callErr
			}
			if textOf(r) != "deployed payments@1.2.3" {
				return nil, fmt.Errorf("unexpected deploy result %s", compact(r))
			}
			return r, nil
		},
		"listen": func(ctx context.Context, _ map[string]any) (any, error) {
			st.mu.Lock()
			acked := len(st.acks)
			st.mu.Unlock()
			listenFirst = rec.listenCount()
			// Under 2026-07-28 Subscribe opens a dedicated subscriptions/listen stream
			// with resourceSubscriptions [uri] (it does not wait for its response).
			if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: counterURI}); err != nil {
				return nil, err
			}
			subscribed = true
			for {
				st.mu.Lock()
				if len(st.acks) > acked {
					ack := st.acks[acked]
					st.mu.Unlock()
					return map[string]any{"honoredFilter": ack}, nil
				}
				st.mu.Unlock()
				select {
				case <-st.acksCh:
				case <-ctx.Done():
					return nil, fmt.Errorf("no notifications/subscriptions/acknowledged on the listen stream: %w", ctx.Err())
				}
			}
		},
		"bump": func(ctx context.Context, _ map[string]any) (any, error) {
			r, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "v2_bump", Arguments: map[string]any{}})
			if err != nil {
				return nil, err
			}
			bumped, bumpedSet = textOf(r), true
			if !digits.MatchString(bumped) {
				return nil, fmt.Errorf("unexpected bump result %s", compact(r))
			}
			g, err := generic(r)
			if err != nil {
				return nil, err
			}
			if m, ok := g.(map[string]any); ok {
				if content, ok := m["content"].([]any); ok {
					for _, c := range content {
						if cm, ok := c.(map[string]any); ok && cm["type"] == "text" {
							cm["text"] = "<counter>"
						}
					}
				}
			}
			return g, nil
		},
		"notified": func(ctx context.Context, _ map[string]any) (any, error) {
			deadline := time.NewTimer(10 * time.Second)
			defer deadline.Stop()
			for {
				st.mu.Lock()
				ok := slices.Contains(st.updates, counterURI)
				uris := slices.Clone(st.updates)
				st.mu.Unlock()
				if ok {
					sort.Strings(uris)
					return map[string]any{"uris": slices.Compact(uris)}, nil
				}
				select {
				case <-st.updatesCh:
				case <-deadline.C:
					return nil, fmt.Errorf("no notifications/resources/updated for %s within 10 s", counterURI)
				}
			}
		},
		"read": func(ctx context.Context, _ map[string]any) (any, error) {
			r, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: counterURI})
			if err != nil {
				return nil, err
			}
			v := ""
			if len(r.Contents) > 0 && r.Contents[0] != nil {
				v = r.Contents[0].Text
			}
			if !digits.MatchString(v) {
				return nil, fmt.Errorf("unexpected counter %s", compact(r))
			}
			g, err := generic(r)
			if err != nil {
				return nil, err
			}
			m, ok := g.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("unexpected read result %s", compact(r))
			}
			if contents, ok := m["contents"].([]any); ok {
				for _, c := range contents {
					if cm, ok := c.(map[string]any); ok {
						cm["text"] = "<counter>"
					}
				}
			}
			if bumpedSet {
				m["equals_bump"] = v == bumped
			} else {
				m["equals_bump"] = "no-bump-step"
			}
			return m, nil
		},
		"close": func(ctx context.Context, _ map[string]any) (any, error) {
			if !subscribed {
				return nil, errors.New("no listen stream open")
			}
			// Unsubscribe cancels the listen call's context: the SDK sends
			// notifications/cancelled and the HTTP response body of the listen POST is closed.
			if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: counterURI}); err != nil {
				return nil, err
			}
			subscribed = false
			streams := rec.listensFrom(listenFirst)
			if len(streams) == 0 {
				return nil, errors.New("no subscriptions/listen response stream was seen")
			}
			closed := "local"
			for _, lb := range streams {
				select {
				case <-lb.closedCh:
				case <-ctx.Done():
					return nil, fmt.Errorf("listen stream not closed after Unsubscribe: %w", ctx.Err())
				}
				lb.mu.Lock()
				if lb.eof {
					closed = "remote"
				}
				lb.mu.Unlock()
			}
			return map[string]any{"closed": closed}, nil
		},
	}

	for _, name := range steps {
		s := map[string]any{"step": name}
		stepsOut = append(stepsOut, s)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		res, err := impl[name](ctx, s)
		cancel()
		if err == nil {
			var g any
			if g, err = generic(res); err == nil {
				s["result"] = norm(g)
			}
		}
		if err != nil {
			failed++
			s["error"] = errorObject(err)
			fmt.Fprintf(os.Stderr, "go-v2-client: step %s failed: %v\n", name, err)
		}
	}
	cs.Close()
	finish()
}
