package main

// Activity points: what each action earns, and the off-peak window in which
// it earns half as much again. Pure and safe for concurrent use.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ActionPoints are the base points per action.
var ActionPoints = map[string]int{"view": 1, "like": 5, "comment": 10, "share": 15, "apply": 20}

// Actions lists the allowed actions in a stable order, for error messages.
var Actions = []string{"view", "like", "comment", "share", "apply"}

// OffPeak is a window of local hours, Start inclusive, End exclusive; it may
// wrap midnight (22-7). A window whose Start equals its End, such as the zero
// OffPeak, is empty.
type OffPeak struct{ Start, End int }

// ParseOffPeak parses a window written "START-END" in whole hours 0..23, such
// as "22-7". Start and end must differ; errors name the bad part.
func ParseOffPeak(s string) (OffPeak, error) {
	startText, endText, ok := strings.Cut(s, "-")
	if !ok {
		return OffPeak{}, fmt.Errorf("off-peak window %q: want START-END in hours, e.g. 22-7", s)
	}
	start, err := parseHour(startText)
	if err != nil {
		return OffPeak{}, fmt.Errorf("off-peak window %q: start %w", s, err)
	}
	end, err := parseHour(endText)
	if err != nil {
		return OffPeak{}, fmt.Errorf("off-peak window %q: end %w", s, err)
	}
	if start == end {
		return OffPeak{}, fmt.Errorf("off-peak window %q: start and end are both %d, the window would be empty", s, start)
	}
	return OffPeak{Start: start, End: end}, nil
}

// parseHour parses a whole hour of the day, 0..23.
func parseHour(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, err := strconv.Atoi(s)
	if err != nil || h < 0 || h > 23 {
		return 0, fmt.Errorf("%q is not an hour 0-23", s)
	}
	return h, nil
}

// Contains reports whether t, seen in loc (t's own location when loc is nil),
// falls in the window.
func (o OffPeak) Contains(t time.Time, loc *time.Location) bool {
	if loc != nil {
		t = t.In(loc)
	}
	h := t.Hour()
	if o.Start <= o.End {
		return o.Start <= h && h < o.End
	}
	return h >= o.Start || h < o.End
}

// ActivityPoints returns the points for action at time t: its base points,
// times 1.5 rounded half up when t falls in the off-peak window seen in loc.
// An unknown action gets (0, false).
func ActivityPoints(action string, t time.Time, loc *time.Location, off OffPeak) (int, bool) {
	base, ok := ActionPoints[action]
	if !ok {
		return 0, false
	}
	if off.Contains(t, loc) {
		return roundHalfUp(3*base, 2), true
	}
	return base, true
}
