package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/jsonbody"
	"github.com/gatehouse/gatehouse/problem"
)

type auditEventResponse struct {
	Seq       int64             `json:"seq"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`
	Actor     string            `json:"actor"`
	Subject   string            `json:"subject"`
	ClientIP  string            `json:"client_ip"`
	RequestID string            `json:"request_id"`
	Outcome   string            `json:"outcome"`
	Detail    map[string]string `json:"detail"`
}

type auditPage struct {
	Items      []auditEventResponse `json:"items"`
	NextCursor *string              `json:"next_cursor"`
}

// handleAudit lists audit events, oldest first, filtered by ?type=,
// ?user= (actor or subject), ?since= and ?until= (RFC 3339), a page at a
// time (?limit= ≤ 100, ?cursor=).
func handleAudit(d Deps) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var errs []problem.FieldError
		limit, fe := jsonbody.QueryInt(r, "limit", 50, 1, 100)
		if fe != nil {
			errs = append(errs, *fe)
		}
		f := gatehouse.AuditFilter{Limit: limit + 1}
		var fe2 *problem.FieldError
		if f.Type, fe2 = jsonbody.QueryString(r, "type", 64); fe2 != nil {
			errs = append(errs, *fe2)
		}
		if f.UserID, fe2 = jsonbody.QueryString(r, "user", 64); fe2 != nil {
			errs = append(errs, *fe2)
		}
		for _, p := range []struct {
			name string
			dst  *time.Time
		}{{"since", &f.Since}, {"until", &f.Until}} {
			if v := r.URL.Query().Get(p.name); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					errs = append(errs, problem.FieldError{Location: "query." + p.name, Message: "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"})
				}
				*p.dst = t
			}
		}
		if c := r.URL.Query().Get("cursor"); c != "" {
			n, err := strconv.ParseInt(c, 10, 64)
			if err != nil || n < 0 {
				errs = append(errs, problem.FieldError{Location: "query.cursor", Message: "is not a cursor from this API"})
			}
			f.AfterSeq = n
		}
		if len(errs) > 0 {
			problem.Write(w, r, problem.Validation(errs...))
			return
		}
		list, err := d.AuditStore.AuditEvents(r.Context(), f)
		if err != nil {
			respond(w, r, err)
			return
		}
		page := auditPage{Items: make([]auditEventResponse, 0, limit)}
		for i, e := range list {
			if i == limit {
				next := strconv.FormatInt(list[i-1].Seq, 10)
				page.NextCursor = &next
				break
			}
			if e.Detail == nil {
				e.Detail = map[string]string{}
			}
			page.Items = append(page.Items, auditEventResponse{Seq: e.Seq, Time: e.Time, Type: e.Type, Actor: e.Actor,
				Subject: e.Subject, ClientIP: e.ClientIP, RequestID: e.RequestID, Outcome: e.Outcome, Detail: e.Detail})
		}
		noStore(w)
		jsonbody.Write(w, http.StatusOK, page)
	})
}
