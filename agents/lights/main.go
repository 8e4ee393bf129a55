// Lights switches and dims the lights of a room, or one light, whichever backend holds them
// (zigbee2mqtt or Home Assistant). The house comes in each task's context as "home.rooms":
// room name (as people say it) -> its lights, each with an id, a spoken name and whether it
// dims. The agent decides which lights to ask for; the host switches them through the
// home.call_service call, so broker passwords and Home Assistant tokens stay on the host.
package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

func main() {
	newHost().serve("lights", handle)
}

// light is one entry of context "home.rooms".
type light struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Dims bool   `json:"dims"`
}

// callResult is what home.call_service answers.
type callResult struct {
	Switched          []string `json:"switched"`
	WithoutBrightness []string `json:"without_brightness"`
	Failed            []struct {
		Light string `json:"light"`
		Error string `json:"error"`
	} `json:"failed"`
}

func handle(h *host, t task) (string, interface{}, error) {
	what, lights, err := target(t)
	if err != nil {
		return "", nil, err
	}
	params := map[string]interface{}{"domain": "light"}
	var sentence string // %s: what was switched ("kitchen lights", "desk lamp")
	var skipped []string
	switch t.Intent {
	case "on":
		params["service"], sentence = "turn_on", "Turned on the %s."
	case "off":
		params["service"], sentence = "turn_off", "Turned off the %s."
	case "dim":
		level, ok := t.integer("level")
		if !ok || level < 0 || level > 100 {
			return "", nil, fail("invalid_level", "Say a level between 0 and 100 percent.")
		}
		var dimmable []light
		for _, l := range lights {
			if l.Dims {
				dimmable = append(dimmable, l)
			} else {
				skipped = append(skipped, l.Name)
			}
		}
		if len(dimmable) == 0 {
			return "", nil, fail("cannot_dim", "The %s cannot be dimmed; they only switch on and off.", what)
		}
		lights = dimmable
		params["service"], params["brightness_pct"] = "turn_on", level
		sentence = "Dimmed the %s to " + strconv.Itoa(level) + " percent."
	default:
		return "", nil, fail("unknown_intent", "lights does not know the intent %q", t.Intent)
	}

	ids := make([]string, len(lights))
	for i, l := range lights {
		ids[i] = l.ID
	}
	params["lights"] = ids
	var res callResult
	if err := h.call(t.ID, "home.call_service", params, &res); err != nil {
		return "", nil, fail("switch_failed", "I could not reach the %s: %v", what, err)
	}
	text := fmt.Sprintf(sentence, what)
	if len(res.Failed) > 0 {
		names := make([]string, len(res.Failed))
		for i, f := range res.Failed {
			names[i] = f.Light
		}
		text += fmt.Sprintf(" The %s did not answer.", spokenList(names))
	}
	if len(skipped) > 0 {
		text += fmt.Sprintf(" The %s only switch%s on and off.", spokenList(skipped), verbS(len(skipped)))
	}
	return text, map[string]interface{}{
		"lights": res.Switched, "failed": res.Failed, "not_dimmed": skipped,
	}, nil
}

// target resolves the "room" or "device" argument to lights of the house.
func target(t task) (string, []light, error) {
	rooms := map[string][]light{}
	if raw, ok := t.Context.Config["home.rooms"]; ok {
		if err := json.Unmarshal(raw, &rooms); err != nil {
			return "", nil, fail("bad_context", "the host sent home.rooms in a shape this agent does not read: %v", err)
		}
	}
	names := make([]string, 0, len(rooms))
	for name := range rooms {
		names = append(names, name)
	}
	sort.Strings(names)

	if device := t.str("device"); device != "" {
		// every light of the house, in a room or not: spoken name -> id, dims
		all := map[string]light{}
		if raw, ok := t.Context.Config["home.lights"]; ok {
			json.Unmarshal(raw, &all)
		}
		for name, l := range all {
			if normalise(name) == normalise(device) {
				l.Name = name
				return normalise(name), []light{l}, nil
			}
		}
		for _, name := range names {
			for _, l := range rooms[name] {
				if normalise(l.Name) == normalise(device) {
					return normalise(l.Name), []light{l}, nil
				}
			}
		}
		return "", nil, fail("unknown_light", "I don't know a light called %s.", normalise(device))
	}
	room := normalise(t.str("room"))
	if room == "" {
		return "", nil, fail("missing_room", "Which room? Say for example \"turn on the kitchen lights\".")
	}
	if len(names) == 0 {
		return "", nil, fail("unknown_room", "No rooms are set up yet; add one with helix-node rooms set, or connect zigbee2mqtt or Home Assistant.")
	}
	for _, name := range names {
		if normalise(name) != room {
			continue
		}
		if len(rooms[name]) == 0 {
			return "", nil, fail("no_lights", "The %s has no lights yet; add them with helix-node rooms set.", normalise(name))
		}
		return normalise(name) + " lights", rooms[name], nil
	}
	spoken := make([]string, len(names))
	for i, n := range names {
		spoken[i] = normalise(n)
	}
	return "", nil, fail("unknown_room", "I don't know a room called %s; the rooms are %s.", room, spokenList(spoken))
}

// normalise lets "living room", "Living_Room" and "living-room" name the same room, and is how
// a name is spoken back: words, never underscores.
func normalise(s string) string {
	s = strings.NewReplacer("_", " ", "-", " ", ".", " ").Replace(strings.ToLower(s))
	return strings.Join(strings.Fields(s), " ")
}

// spokenList joins names as a sentence does: "a", "a and b", "a, b and c".
func spokenList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func verbS(n int) string {
	if n == 1 {
		return "es"
	}
	return ""
}
