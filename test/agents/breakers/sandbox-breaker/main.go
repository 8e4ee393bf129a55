// Sandbox-breaker tries to escape each limit of the agent sandbox, one intent per limit, and
// reports what happened. The tests expect every attempt to fail (or the container to be killed).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if os.Getenv("BREAKER_CHILD") == "1" {
		time.Sleep(time.Minute) // a fork-bomb child: just exist
		return
	}
	newHost().serve("sandbox-breaker", func(h *host, t task) (string, interface{}, error) {
		switch t.Intent {
		case "identity":
			return identity()
		case "write_root":
			if err := os.WriteFile("/escaped", []byte("x"), 0o644); err != nil {
				return "", nil, fail("write_failed", "writing to / failed: %v", err)
			}
			return "wrote /escaped", nil, nil
		case "open_socket":
			address := t.str("address")
			if address == "" {
				address = "1.1.1.1:53"
			}
			conn, err := net.DialTimeout("tcp", address, 2*time.Second)
			if err != nil {
				return "", nil, fail("connect_failed", "opening a socket failed: %v", err)
			}
			conn.Close()
			return "connected to " + address, nil, nil
		case "fork_bomb":
			return forkBomb()
		case "sleep":
			time.Sleep(time.Hour)
			return "woke up", nil, nil
		case "allocate":
			mb, _ := t.integer("mb")
			var keep [][]byte
			for i := 0; i < mb; i++ {
				chunk := make([]byte, 1<<20)
				for j := range chunk {
					chunk[j] = byte(j) // touch every page so it is really resident
				}
				keep = append(keep, chunk)
			}
			return fmt.Sprintf("allocated %d MB", len(keep)), nil, nil
		}
		return "", nil, fail("unknown_intent", "no intent %q", t.Intent)
	})
}

// identity reports who the agent runs as and what it may do, from /proc/self/status.
func identity() (string, interface{}, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", nil, err
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(status), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return "uid " + strconv.Itoa(os.Getuid()), map[string]interface{}{
		"uid": os.Getuid(), "gid": os.Getgid(),
		"cap_eff": fields["CapEff"], "cap_bnd": fields["CapBnd"], "no_new_privs": fields["NoNewPrivs"],
	}, nil
}

// forkBomb starts children until the kernel says no.
func forkBomb() (string, interface{}, error) {
	var children []*exec.Cmd
	defer func() {
		for _, c := range children {
			c.Process.Kill()
		}
	}()
	for i := 0; i < 10000; i++ {
		c := exec.Command("/agent")
		c.Env = []string{"BREAKER_CHILD=1", "GOMAXPROCS=1"}
		if err := c.Start(); err != nil {
			return "", map[string]interface{}{"children": len(children)}, fail("fork_failed", "starting process %d failed: %v", len(children)+1, err)
		}
		children = append(children, c)
	}
	return "started 10000 processes", nil, nil
}

// ---- the host <-> agent protocol (docs/agents.md); the same block in every shipped agent ----

const protocolVersion = 1

// task is the host's "task" line.
type task struct {
	ID      string                     `json:"id"`
	Intent  string                     `json:"intent"`
	Args    map[string]json.RawMessage `json:"args"`
	Context taskContext                `json:"context"`
}

type taskContext struct {
	Node   string                     `json:"node"`
	Host   string                     `json:"host"`
	Config map[string]json.RawMessage `json:"config"`
}

// inbound is any line from the host: a "task" or a "reply" to one of our calls.
type inbound struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	task
	CallID string          `json:"call_id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

// agentError is an error with a short code the host passes on (e.g. "unknown_room").
type agentError struct{ code, message string }

func (e *agentError) Error() string { return e.message }

func fail(code, format string, a ...interface{}) error {
	return &agentError{code: code, message: fmt.Sprintf(format, a...)}
}

// host is this agent's side of the conversation: one writer on stdout, replies routed by call_id.
type host struct {
	mu      sync.Mutex
	out     *bufio.Writer
	pending map[string]chan inbound
	calls   int
}

func newHost() *host {
	return &host{out: bufio.NewWriter(os.Stdout), pending: map[string]chan inbound{}}
}

func (h *host) send(msg map[string]interface{}) {
	msg["v"] = protocolVersion
	line, err := json.Marshal(msg)
	if err != nil {
		line, _ = json.Marshal(map[string]interface{}{"v": protocolVersion, "type": "error", "id": msg["id"], "message": "cannot encode the answer: " + err.Error()})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out.Write(line)
	h.out.WriteByte('\n')
	if err := h.out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "stdout:", err)
		os.Exit(1)
	}
}

func (h *host) progress(taskID, message string) {
	h.send(map[string]interface{}{"type": "progress", "id": taskID, "message": message})
}

// call asks the host for an effect and waits for its reply. taskID is empty for a call made
// between tasks (a timer firing).
func (h *host) call(taskID, method string, params, result interface{}) error {
	h.mu.Lock()
	h.calls++
	callID := "c" + strconv.Itoa(h.calls)
	reply := make(chan inbound, 1)
	h.pending[callID] = reply
	h.mu.Unlock()
	msg := map[string]interface{}{"type": "call", "call_id": callID, "method": method, "params": params}
	if taskID != "" {
		msg["id"] = taskID
	}
	h.send(msg)
	r, ok := <-reply
	if !ok {
		return fmt.Errorf("%s: the host went away", method)
	}
	if !r.OK {
		return fmt.Errorf("%s: %s", method, r.Error)
	}
	if result != nil {
		return json.Unmarshal(r.Result, result)
	}
	return nil
}

// serve says ready, then runs tasks one at a time until the host closes stdin.
func (h *host) serve(agent string, handle func(h *host, t task) (string, interface{}, error)) {
	tasks := make(chan task, 16)
	go h.read(tasks)
	h.send(map[string]interface{}{"type": "ready", "agent": agent})
	for t := range tasks {
		text, data, err := runTask(h, t, handle)
		if err != nil {
			msg := map[string]interface{}{"type": "error", "id": t.ID, "message": err.Error()}
			if ae, ok := err.(*agentError); ok && ae.code != "" {
				msg["code"] = ae.code
			}
			h.send(msg)
			continue
		}
		h.send(map[string]interface{}{"type": "result", "id": t.ID, "text": text, "data": data})
	}
}

func runTask(h *host, t task, handle func(h *host, t task) (string, interface{}, error)) (text string, data interface{}, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("internal error: %v", p)
		}
	}()
	return handle(h, t)
}

func (h *host) read(tasks chan<- task) {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		var m inbound
		if err := json.Unmarshal(in.Bytes(), &m); err != nil {
			fmt.Fprintln(os.Stderr, "ignoring a line that is not JSON:", err)
			continue
		}
		switch m.Type {
		case "task":
			tasks <- m.task
		case "reply":
			h.mu.Lock()
			reply := h.pending[m.CallID]
			delete(h.pending, m.CallID)
			h.mu.Unlock()
			if reply != nil {
				reply <- m
			}
		}
	}
	close(tasks)
	h.mu.Lock()
	for id, reply := range h.pending {
		close(reply)
		delete(h.pending, id)
	}
	h.mu.Unlock()
}

// str, integer: typed task arguments (the host validated them against agent.toml).
func (t task) str(name string) string {
	var s string
	if raw, ok := t.Args[name]; ok {
		json.Unmarshal(raw, &s)
	}
	return s
}

func (t task) integer(name string) (int, bool) {
	raw, ok := t.Args[name]
	if !ok {
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false
	}
	return int(f), true
}
