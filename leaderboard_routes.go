package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

// The two read routes of the leaderboard, authenticated like every GET /api/…
// route. They read redka only; nothing here touches the queue or the store.

func (s *Server) leaderboardRoutes(r *httprouter.Router) {
	r.GET("/api/activity/leaderboard", s.authenticated(s.leaderboard))
	r.GET("/api/activity/trending", s.authenticated(s.trending))
}

// leaderboardReply is the answer of GET /api/activity/leaderboard.
type leaderboardReply struct {
	Users []RankedUser `json:"users"`
}

// trendingReply is the answer of GET /api/activity/trending.
type trendingReply struct {
	Targets []TrendingTarget `json:"targets"`
}

// Defaults and bounds of the query parameters.
const (
	defaultBoardLimit    = 10
	maxBoardLimit        = 100
	defaultTrendingHours = 24
)

// leaderboard answers GET /api/activity/leaderboard?limit=10.
func (s *Server) leaderboard(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q, err := parseBoardQuery(r, "limit")
	var limit int
	if err == nil {
		limit, err = q.intIn("limit", defaultBoardLimit, 1, maxBoardLimit)
	}
	if err != nil {
		writeRequestError(w, err)
		return
	}
	s.answerBoard(w, r, func(ctx context.Context) (any, error) {
		users, err := s.Board.Top(ctx, limit)
		return leaderboardReply{Users: nonNil(users)}, err
	})
}

// trending answers GET /api/activity/trending?type=post&hours=24&limit=10.
func (s *Server) trending(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	targetType, hours, limit, err := parseTrendingQuery(r)
	if err != nil {
		writeRequestError(w, err)
		return
	}
	s.answerBoard(w, r, func(ctx context.Context) (any, error) {
		targets, err := s.Board.Trending(ctx, targetType, hours, limit)
		return trendingReply{Targets: nonNil(targets)}, err
	})
}

func parseTrendingQuery(r *http.Request) (targetType string, hours, limit int, err error) {
	q, err := parseBoardQuery(r, "type", "hours", "limit")
	if err != nil {
		return "", 0, 0, err
	}
	if targetType, err = q.oneOf("type", TrendingTypes); err != nil {
		return "", 0, 0, err
	}
	if hours, err = q.intIn("hours", defaultTrendingHours, 1, maxTrendingHours); err != nil {
		return "", 0, 0, err
	}
	limit, err = q.intIn("limit", defaultBoardLimit, 1, maxBoardLimit)
	return targetType, hours, limit, err
}

// answerBoard runs a read of the leaderboard and answers with its reply:
// 404 when the leaderboard is disabled, 503 with Retry-After while it is
// rebuilt or when redka.db cannot be read.
func (s *Server) answerBoard(w http.ResponseWriter, r *http.Request, read func(context.Context) (any, error)) {
	switch {
	case s.Board == nil:
		writeError(w, http.StatusNotFound, "Leaderboard disabled on this instance (LEADERBOARD_DISABLED)", nil)
		return
	case !s.Board.IsReady():
		w.Header().Set("Retry-After", "2")
		writeError(w, http.StatusServiceUnavailable, "Leaderboard is rebuilding from the store: retry shortly", nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	reply, err := read(ctx)
	if err != nil {
		s.Log.Error("leaderboard read failed", "path", r.URL.Path, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "Leaderboard unavailable", nil)
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

// boardQuery is a validated query string: each parameter known and given
// at most once.
type boardQuery url.Values

// parseBoardQuery refuses a malformed query string, an unknown parameter
// (a typo would otherwise silently fall back to the default) and a
// repeated one.
func parseBoardQuery(r *http.Request, known ...string) (boardQuery, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("query: malformed query string")
	}
	for name, values := range v {
		if !slices.Contains(known, name) {
			return nil, &RequestError{Status: http.StatusBadRequest,
				Message: fmt.Sprintf("%s: unknown query parameter; allowed: %s", truncateName(name), strings.Join(known, ", ")),
				Details: map[string]any{"allowed": known}}
		}
		if len(values) > 1 {
			return nil, badRequest("%s: given more than once", name)
		}
	}
	return boardQuery(v), nil
}

// truncateName quotes a parameter's name or value for the reply, kept
// short and cut on a character boundary.
func truncateName(name string) string { return strconv.Quote(truncate(name, 64)) }

// intIn reads an integer parameter in min..max, def when absent.
func (q boardQuery) intIn(name string, def, min, max int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < min || n > max {
		return 0, badRequest("%s: want an integer in %d..%d, got %s", name, min, max, truncateName(v[0]))
	}
	return n, nil
}

// oneOf reads a required parameter that must be one of allowed.
func (q boardQuery) oneOf(name string, allowed []string) (string, error) {
	v, ok := q[name]
	if !ok || v[0] == "" {
		return "", &RequestError{Status: http.StatusBadRequest,
			Message: fmt.Sprintf("%s: required; allowed: %s", name, strings.Join(allowed, ", ")),
			Details: map[string]any{"allowed": allowed}}
	}
	if !slices.Contains(allowed, v[0]) {
		return "", &RequestError{Status: http.StatusBadRequest,
			Message: fmt.Sprintf("%s: want one of %s, got %s", name, strings.Join(allowed, ", "), truncateName(v[0])),
			Details: map[string]any{"allowed": allowed}}
	}
	return v[0], nil
}
