// Lights switches and dims lights over MQTT in zigbee2mqtt's convention: it publishes
// {"state":"ON"}, {"state":"OFF"} or {"brightness":0-254} to <base_topic>/<friendly_name>/set
// through the host's mqtt.publish call. The room -> friendly names map is helix.toml's
// [lights.rooms], handed over in each task's context.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

func main() {
	newHost().serve("lights", handle)
}

func handle(h *host, t task) (string, interface{}, error) {
	var payload map[string]interface{}
	var sentence string // %s is the room's (or device's) lights
	switch t.Intent {
	case "on":
		payload, sentence = map[string]interface{}{"state": "ON"}, "Turned on the %s."
	case "off":
		payload, sentence = map[string]interface{}{"state": "OFF"}, "Turned off the %s."
	case "dim":
		level, ok := t.integer("level")
		if !ok || level < 0 || level > 100 {
			return "", nil, fail("invalid_level", "Say a level between 0 and 100 percent.")
		}
		// zigbee2mqtt brightness runs 0-254.
		payload = map[string]interface{}{"brightness": int(math.Round(float64(level) * 254 / 100))}
		sentence = "Dimmed the %s to " + strconv.Itoa(level) + " percent."
	default:
		return "", nil, fail("unknown_intent", "lights does not know the intent %q", t.Intent)
	}

	what, devices, err := target(t)
	if err != nil {
		return "", nil, err
	}
	base := "zigbee2mqtt"
	if raw, ok := t.Context.Config["mqtt.base_topic"]; ok {
		json.Unmarshal(raw, &base)
	}
	topics := make([]string, 0, len(devices))
	for _, device := range devices {
		topic := base + "/" + device + "/set"
		if err := h.call(t.ID, "mqtt.publish", map[string]interface{}{"topic": topic, "payload": payload}, nil); err != nil {
			return "", nil, fail("publish_failed", "I could not reach the %s: %v", what, err)
		}
		topics = append(topics, topic)
	}
	return fmt.Sprintf(sentence, what), map[string]interface{}{"devices": devices, "topics": topics, "payload": payload}, nil
}

// target resolves the "room" or "device" argument to zigbee2mqtt friendly names.
func target(t task) (string, []string, error) {
	if device := t.str("device"); device != "" {
		return device, []string{device}, nil
	}
	room := strings.ToLower(strings.TrimSpace(t.str("room")))
	if room == "" {
		return "", nil, fail("missing_room", "Which room? Say for example \"turn on the kitchen lights\".")
	}
	rooms := map[string][]string{}
	if raw, ok := t.Context.Config["lights.rooms"]; ok {
		json.Unmarshal(raw, &rooms)
	}
	names := make([]string, 0, len(rooms))
	for name, devices := range rooms {
		names = append(names, name)
		if normalise(name) == normalise(room) && len(devices) > 0 {
			return name + " lights", devices, nil
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "", nil, fail("unknown_room", "No rooms are set up; add them under [lights.rooms] in helix.toml.")
	}
	return "", nil, fail("unknown_room", "I don't know a room called %s. Rooms with lights: %s.", room, strings.Join(names, ", "))
}

// normalise lets "living room", "Living_Room" and "living-room" name the same room.
func normalise(s string) string {
	return strings.NewReplacer("_", " ", "-", " ").Replace(strings.ToLower(strings.TrimSpace(s)))
}
