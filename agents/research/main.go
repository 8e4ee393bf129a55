// Research answers a question from web pages: it fetches the pages through the host
// (`http.fetch`, under the host's egress policy), then asks the mesh's LLM (`llm.generate`) for a
// short answer to read aloud, and returns it with its sources. Cold: one container per question.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

const (
	maxSources      = 3
	maxSourceChars  = 6000
	maxAnswerChars  = 600
	maxFetchedBytes = 512 * 1024
)

type source struct {
	URL    string `json:"url"`
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	text   string
}

func main() {
	newHost().serve("research", func(h *host, t task) (string, interface{}, error) {
		if t.Intent != "ask" {
			return "", nil, fail("unknown_intent", "research does not know the intent %q", t.Intent)
		}
		question := strings.TrimSpace(t.str("question"))
		if question == "" {
			return "", nil, fail("missing_question", "What should I look up?")
		}
		urls := strings.Fields(strings.NewReplacer(",", " ", ";", " ").Replace(t.str("urls")))
		if len(urls) > maxSources {
			urls = urls[:maxSources]
		}

		sources := make([]source, 0, len(urls))
		fetched := 0
		for i, url := range urls {
			h.progress(t.ID, fmt.Sprintf("fetching %d of %d: %s", i+1, len(urls), url))
			src := fetch(h, t.ID, url)
			if src.Error == "" {
				fetched++
			}
			sources = append(sources, src)
		}
		if len(urls) > 0 && fetched == 0 {
			return "", map[string]interface{}{"sources": sources}, fail("fetch_failed", "I could not fetch any of the pages: %s", sources[0].Error)
		}

		h.progress(t.ID, "summarising")
		var answer struct {
			Text string `json:"text"`
		}
		params := map[string]interface{}{"system": systemPrompt, "prompt": prompt(question, sources), "max_tokens": 200}
		if err := h.call(t.ID, "llm.generate", params, &answer); err != nil {
			return "", nil, fail("llm_failed", "I could not get an answer from the language model: %v", err)
		}
		text := shorten(strings.TrimSpace(answer.Text), maxAnswerChars)
		if text == "" {
			return "", nil, fail("empty_answer", "The language model gave no answer.")
		}
		return text, map[string]interface{}{"question": question, "answer": text, "sources": sources}, nil
	})
}

const systemPrompt = "You answer questions for a voice assistant. Answer in at most three short sentences " +
	"that read well aloud: no lists, no markdown, no URLs. Use only the sources given; " +
	"if they do not answer the question, say so."

func prompt(question string, sources []source) string {
	var b strings.Builder
	b.WriteString("Question: " + question + "\n")
	n := 0
	for _, s := range sources {
		if s.Error != "" {
			continue
		}
		n++
		fmt.Fprintf(&b, "\nSource %d (%s)", n, s.URL)
		if s.Title != "" {
			b.WriteString(" titled \"" + s.Title + "\"")
		}
		b.WriteString(":\n" + s.text + "\n")
	}
	if n == 0 {
		b.WriteString("\nNo sources were given; answer from what you know and say that it is not checked.\n")
	}
	return b.String()
}

func fetch(h *host, taskID, url string) source {
	var page struct {
		URL         string `json:"url"`
		Status      int    `json:"status"`
		ContentType string `json:"content_type"`
		Body        string `json:"body"`
	}
	err := h.call(taskID, "http.fetch", map[string]interface{}{"url": url, "max_bytes": maxFetchedBytes}, &page)
	if err != nil {
		return source{URL: url, Error: err.Error()}
	}
	src := source{URL: page.URL, Status: page.Status}
	if page.Status >= 400 {
		src.Error = "HTTP " + strconv.Itoa(page.Status)
		return src
	}
	if strings.Contains(page.ContentType, "html") || strings.HasPrefix(strings.TrimSpace(page.Body), "<") {
		src.Title, src.text = readHTML(page.Body)
	} else {
		src.text = collapse(page.Body)
	}
	src.text = shorten(src.text, maxSourceChars)
	return src
}

var (
	titleTag  = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	invisible = regexp.MustCompile(`(?is)<(script|style|noscript|svg|head)[^>]*>.*?</(script|style|noscript|svg|head)>`)
	tag       = regexp.MustCompile(`(?s)<[^>]*>`)
	space     = regexp.MustCompile(`\s+`)
)

// readHTML turns a page into its title and visible text (standard library only: no HTML parser).
func readHTML(page string) (string, string) {
	title := ""
	if m := titleTag.FindStringSubmatch(page); m != nil {
		title = collapse(html.UnescapeString(tag.ReplaceAllString(m[1], "")))
	}
	body := invisible.ReplaceAllString(page, " ")
	body = tag.ReplaceAllString(body, " ")
	return title, collapse(html.UnescapeString(body))
}

func collapse(s string) string { return strings.TrimSpace(space.ReplaceAllString(s, " ")) }

// shorten cuts at a sentence or word boundary near max characters.
func shorten(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	cut := s[:max]
	if i := strings.LastIndexAny(cut, ".!?"); i > max/2 {
		return cut[:i+1]
	}
	if i := strings.LastIndex(cut, " "); i > 0 {
		cut = cut[:i]
	}
	return cut + "…"
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
