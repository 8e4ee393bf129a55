// Research answers a question from web pages: it fetches the pages through the host
// (`http.fetch`, under the host's egress policy), then asks the mesh's LLM (`llm.generate`) for a
// short answer to read aloud, and returns it with its sources. Cold: one container per question.
package main

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
	"strings"
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
