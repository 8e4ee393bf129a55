// Mesh answers questions about the household's mesh: which devices are online and what is
// running where. It asks the host for the mesh as the host sees it (`mesh.status`).
package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// status is the `mesh.status` reply (docs/agents.md).
type status struct {
	Self  string `json:"self"`
	Nodes []struct {
		Name    string   `json:"name"`
		State   string   `json:"state"`
		Roles   []string `json:"roles"`
		Running []struct {
			Agent string `json:"agent"`
			Count int    `json:"count"`
		} `json:"running"`
		Warm []struct {
			Agent string `json:"agent"`
			Idle  int    `json:"idle"`
			Busy  int    `json:"busy"`
		} `json:"warm"`
	} `json:"nodes"`
}

func main() {
	newHost().serve("mesh", func(h *host, t task) (string, interface{}, error) {
		var st status
		if err := h.call(t.ID, "mesh.status", map[string]interface{}{}, &st); err != nil {
			return "", nil, fail("no_status", "I could not see the mesh: %v", err)
		}
		sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Name < st.Nodes[j].Name })
		switch t.Intent {
		case "online":
			return online(st), st, nil
		case "running":
			return running(st), st, nil
		}
		return "", nil, fail("unknown_intent", "mesh does not know the intent %q", t.Intent)
	})
}

func online(st status) string {
	var up, quiet []string
	for _, n := range st.Nodes {
		switch n.State {
		case "alive":
			up = append(up, n.Name)
		case "suspect":
			quiet = append(quiet, n.Name)
		}
	}
	var out string
	switch len(up) {
	case 0:
		out = "No devices are online."
	case 1:
		out = "One device is online: " + up[0] + "."
	default:
		out = fmt.Sprintf("%d devices are online: %s.", len(up), join(up))
	}
	if len(quiet) == 1 {
		out += " " + quiet[0] + " is not answering."
	} else if len(quiet) > 1 {
		out += " " + join(quiet) + " are not answering."
	}
	return out
}

func running(st status) string {
	var parts []string
	for _, n := range st.Nodes {
		if n.State != "alive" {
			continue
		}
		var busy, warm []string
		for _, r := range n.Running {
			if r.Count == 1 {
				busy = append(busy, r.Agent)
			} else if r.Count > 1 {
				busy = append(busy, r.Agent+" "+strconv.Itoa(r.Count)+" times")
			}
		}
		for _, w := range n.Warm {
			if w.Idle+w.Busy > 0 {
				warm = append(warm, w.Agent)
			}
		}
		var says []string
		if len(busy) > 0 {
			says = append(says, join(busy)+" running")
		}
		if len(warm) > 0 {
			says = append(says, join(warm)+" ready")
		}
		if len(says) > 0 {
			parts = append(parts, "on "+n.Name+", "+strings.Join(says, " and "))
		}
	}
	if len(parts) == 0 {
		return "Nothing is running anywhere."
	}
	text := strings.Join(parts, "; ") + "."
	return strings.ToUpper(text[:1]) + text[1:]
}

func join(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
