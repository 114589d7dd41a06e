package main

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata"
)

func TestParseOffPeak(t *testing.T) {
	valid := []struct {
		in   string
		want OffPeak
	}{
		{"22-7", OffPeak{22, 7}},
		{"0-6", OffPeak{0, 6}},
		{" 23 - 0 ", OffPeak{23, 0}},
	}
	for _, tt := range valid {
		got, err := ParseOffPeak(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseOffPeak(%q) = (%v, %v), want %v", tt.in, got, err, tt.want)
		}
	}
	invalid := []struct{ in, wantInError string }{
		{"", "START-END"},
		{"22", "START-END"},
		{"24-7", `start "24"`},
		{"x-7", `start "x"`},
		{"-7", `start ""`},
		{"22-", `end ""`},
		{"22-7-1", `end "7-1"`},
		{"22--1", `end "-1"`},
		{"5-5", "both 5"},
	}
	for _, tt := range invalid {
		_, err := ParseOffPeak(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.wantInError) {
			t.Errorf("ParseOffPeak(%q) error = %v, want one mentioning %q", tt.in, err, tt.wantInError)
		}
	}
}

func TestOffPeakContains(t *testing.T) {
	paris := mustLoadLocation(t, "Europe/Paris")
	at := func(h, m int) time.Time { return time.Date(2024, 3, 5, h, m, 0, 0, paris) }
	tests := []struct {
		window OffPeak
		t      time.Time
		want   bool
	}{
		{OffPeak{22, 7}, at(22, 0), true},
		{OffPeak{22, 7}, at(23, 59), true},
		{OffPeak{22, 7}, at(0, 0), true},
		{OffPeak{22, 7}, at(6, 59), true},
		{OffPeak{22, 7}, at(7, 0), false},
		{OffPeak{22, 7}, at(21, 59), false},
		{OffPeak{1, 5}, at(1, 0), true},
		{OffPeak{1, 5}, at(5, 0), false},
		{OffPeak{}, at(0, 30), false},
	}
	for _, tt := range tests {
		if got := tt.window.Contains(tt.t.UTC(), paris); got != tt.want {
			t.Errorf("%v.Contains(%v) = %v, want %v", tt.window, tt.t, got, tt.want)
		}
	}
	if !(OffPeak{22, 7}).Contains(at(23, 0), nil) {
		t.Error("Contains with nil location should use the time's own location")
	}
}

func TestActivityPoints(t *testing.T) {
	paris := mustLoadLocation(t, "Europe/Paris")
	off := OffPeak{22, 7}
	at := func(h, m int) time.Time { return time.Date(2024, 7, 14, h, m, 0, 0, paris).UTC() }
	tests := []struct {
		action string
		t      time.Time
		want   int
		wantOK bool
	}{
		{"like", at(23, 30), 8, true}, // 7.5 rounds up
		{"comment", at(12, 0), 10, true},
		{"view", at(3, 0), 2, true},   // 1.5 rounds up
		{"share", at(2, 0), 23, true}, // 22.5 rounds up
		{"apply", at(1, 0), 30, true},
		{"comment", at(22, 0), 15, true},
		{"comment", at(7, 0), 10, true},
		{"view", at(12, 0), 1, true},
		{"unknown", at(12, 0), 0, false},
		{"Like", at(12, 0), 0, false},
		{"", at(23, 0), 0, false},
	}
	for _, tt := range tests {
		got, ok := ActivityPoints(tt.action, tt.t, paris, off)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ActivityPoints(%q, %v) = (%d, %v), want (%d, %v)", tt.action, tt.t.In(paris), got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestActionsMatchActionPoints(t *testing.T) {
	if len(Actions) != len(ActionPoints) {
		t.Fatalf("Actions %q and ActionPoints %v disagree", Actions, ActionPoints)
	}
	for _, a := range Actions {
		if _, ok := ActionPoints[a]; !ok {
			t.Errorf("action %q has no points", a)
		}
	}
}

func mustLoadLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
