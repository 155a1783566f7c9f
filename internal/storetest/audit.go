package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse"
)

// fakeSeal stands for internal/audit's HMAC: a SHA-256 of the previous
// hash and every field, so that a walk that recomputes it checks that the
// store read back exactly the event it sealed.
func fakeSeal(e *gatehouse.AuditEvent) []byte {
	body, err := json.Marshal([]any{e.Seq, e.Time.UnixMicro(), e.Type, e.Actor, e.Subject, e.ClientIP, e.RequestID, e.Outcome, e.Detail})
	if err != nil {
		panic(err)
	}
	h := sha256.New()
	h.Write(e.PrevHash)
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

func appendAudit(t *testing.T, s Store, e *gatehouse.AuditEvent) *gatehouse.AuditEvent {
	t.Helper()
	if err := s.AppendAudit(t.Context(), e, fakeSeal); err != nil {
		t.Fatalf("AppendAudit(%s): %v", e.Type, err)
	}
	return e
}

// sameEvent reports how got differs from want, or "".
func sameEvent(got, want *gatehouse.AuditEvent) string {
	switch {
	case got.Seq != want.Seq:
		return fmt.Sprintf("seq %d, want %d", got.Seq, want.Seq)
	case !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC:
		return fmt.Sprintf("time %v, want %v in UTC", got.Time, want.Time)
	case got.Type != want.Type || got.Actor != want.Actor || got.Subject != want.Subject ||
		got.ClientIP != want.ClientIP || got.RequestID != want.RequestID || got.Outcome != want.Outcome:
		return fmt.Sprintf("fields %q, want %q",
			[]string{got.Type, got.Actor, got.Subject, got.ClientIP, got.RequestID, got.Outcome},
			[]string{want.Type, want.Actor, want.Subject, want.ClientIP, want.RequestID, want.Outcome})
	case !maps.Equal(got.Detail, want.Detail):
		return fmt.Sprintf("detail %q, want %q", got.Detail, want.Detail)
	case !bytes.Equal(got.PrevHash, want.PrevHash) || !bytes.Equal(got.Hash, want.Hash):
		return "hashes differ"
	}
	return ""
}

// walk returns the anchor and the events of WalkAudit, checking that the
// anchor is the same for every event and that the chain is unbroken: seqs
// consecutive, each PrevHash the hash before it (the anchor for the first),
// each hash the seal of what was read back.
func walk(t *testing.T, s Store) ([]byte, []gatehouse.AuditEvent) {
	t.Helper()
	var anchor []byte
	var events []gatehouse.AuditEvent
	err := s.WalkAudit(t.Context(), func(a []byte, e *gatehouse.AuditEvent) error {
		if len(events) == 0 {
			anchor = a
		} else if !bytes.Equal(a, anchor) {
			t.Errorf("walk: the anchor changed at seq %d", e.Seq)
		}
		events = append(events, *e)
		return nil
	})
	if err != nil {
		t.Fatalf("WalkAudit: %v", err)
	}
	prev := anchor
	for i, e := range events {
		if i > 0 && e.Seq != events[i-1].Seq+1 {
			t.Errorf("walk: seq %d follows %d", e.Seq, events[i-1].Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			t.Errorf("walk: seq %d does not chain from the hash before it", e.Seq)
		}
		if !bytes.Equal(e.Hash, fakeSeal(&e)) {
			t.Errorf("walk: seq %d reads back other than it was sealed: %+v", e.Seq, e)
		}
		prev = e.Hash
	}
	return anchor, events
}

func seqs(events []gatehouse.AuditEvent) []int64 {
	out := make([]int64, len(events))
	for i, e := range events {
		out[i] = e.Seq
	}
	return out
}

// Audit checks the audit trail: numbering, chaining, round trips, filters,
// walks, prunes and concurrent appends.
func Audit(t *testing.T, newDB NewDB) {
	t.Run("append and read back", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		if got, err := s.AuditEvents(ctx, gatehouse.AuditFilter{Limit: 10}); err != nil || len(got) != 0 {
			t.Errorf("empty trail: got %v, %v", got, err)
		}
		if anchor, events := walk(t, s); anchor != nil || len(events) != 0 {
			t.Errorf("empty walk: got anchor %x and %d events", anchor, len(events))
		}

		// A time in another zone, with nanoseconds: kept to the
		// microsecond, in UTC.
		at := testNow.Add(789 * time.Nanosecond).In(time.FixedZone("X", 3600))
		e1 := appendAudit(t, s, &gatehouse.AuditEvent{Time: at, Type: "login_success", Actor: "u1", Subject: "u1",
			ClientIP: "192.0.2.1", RequestID: "req-1", Outcome: "success", Detail: map[string]string{"client_id": "web"}})
		if e1.Seq != 1 || e1.PrevHash != nil || !bytes.Equal(e1.Hash, fakeSeal(e1)) {
			t.Errorf("first event: seq %d, prev %x, want seq 1, no prev hash, hash its seal", e1.Seq, e1.PrevHash)
		}
		if !e1.Time.Equal(testNow) {
			t.Errorf("time: got %v, want %v (microseconds)", e1.Time, testNow)
		}
		// No detail at all reads back as an empty map, and the seal
		// covers what reads back.
		e2 := appendAudit(t, s, &gatehouse.AuditEvent{Time: testNow, Type: "logout", Actor: "u1"})
		if e2.Seq != 2 || !bytes.Equal(e2.PrevHash, e1.Hash) {
			t.Errorf("second event: seq %d, want 2 chained from the first", e2.Seq)
		}
		// Text JSON escapes, and text the database cannot hold: the store
		// keeps the event (an attacker must not be able to suppress it),
		// cleaned before it is sealed.
		e3 := appendAudit(t, s, &gatehouse.AuditEvent{Time: testNow, Type: "login_failure", Actor: "", Subject: "bad\xffuser",
			Outcome: "failure", Detail: map[string]string{
				"quote": `"q" \ <b>&amp;` + "\u2028\t", "nul": "a\x00b", "latin1": "caf\xe9", "k\xff": "v", "": "",
			}})
		if e3.Seq != 3 || !bytes.Equal(e3.PrevHash, e2.Hash) || !bytes.Equal(e3.Hash, fakeSeal(e3)) {
			t.Errorf("third event: seq %d, want 3 chained from the second and sealed", e3.Seq)
		}
		for k, v := range e3.Detail {
			if !utf8.ValidString(k+v) || bytes.IndexByte([]byte(k+v), 0) >= 0 {
				t.Errorf("detail %q: %q was not cleaned before sealing", k, v)
			}
		}
		if e3.Detail["quote"] != `"q" \ <b>&amp;`+"\u2028\t" {
			t.Errorf("detail: valid text changed to %q", e3.Detail["quote"])
		}

		got, err := s.AuditEvents(ctx, gatehouse.AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []*gatehouse.AuditEvent{e1, e2, e3}
		if len(got) != len(want) {
			t.Fatalf("AuditEvents: got seqs %v, want 1..3", seqs(got))
		}
		for i := range want {
			if d := sameEvent(&got[i], want[i]); d != "" {
				t.Errorf("AuditEvents, event %d: %s", i+1, d)
			}
			if got[i].Detail == nil {
				t.Errorf("event %d: nil detail, want a map", i+1)
			}
		}
		anchor, walked := walk(t, s)
		if anchor != nil || !slices.Equal(seqs(walked), []int64{1, 2, 3}) {
			t.Errorf("walk: anchor %x, seqs %v; want none and 1..3", anchor, seqs(walked))
		}
		for i := range walked {
			if d := sameEvent(&walked[i], want[i]); d != "" {
				t.Errorf("WalkAudit, event %d: %s", i+1, d)
			}
		}

		// fn's error ends the walk and is returned.
		stop := errors.New("stop")
		calls := 0
		err = s.WalkAudit(ctx, func([]byte, *gatehouse.AuditEvent) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("walk that fails: got %v after %d calls, want stop after 1", err, calls)
		}
	})

	t.Run("filters", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		h := func(n int) time.Time { return testNow.Add(time.Duration(n) * time.Hour) }
		for _, e := range []gatehouse.AuditEvent{
			{Time: h(0), Type: "login_success", Actor: "alice", Subject: "alice"}, // 1
			{Time: h(1), Type: "login_failure", Subject: "bob"},                   // 2
			{Time: h(2), Type: "user_disabled", Actor: "alice", Subject: "bob"},   // 3
			{Time: h(3), Type: "login_success", Actor: "bob", Subject: "bob"},     // 4
			{Time: h(4), Type: "login_failure", Subject: "carol"},                 // 5
			{Time: h(5), Type: "login_success", Actor: "alice", Subject: "alice"}, // 6
		} {
			appendAudit(t, s, &e)
		}
		for _, tc := range []struct {
			name string
			f    gatehouse.AuditFilter
			want []int64
		}{
			{"all", gatehouse.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6}},
			{"type", gatehouse.AuditFilter{Type: "login_success"}, []int64{1, 4, 6}},
			{"user as actor or subject", gatehouse.AuditFilter{UserID: "bob"}, []int64{2, 3, 4}},
			{"user as actor only", gatehouse.AuditFilter{UserID: "alice"}, []int64{1, 3, 6}},
			{"type and user", gatehouse.AuditFilter{Type: "login_failure", UserID: "carol"}, []int64{5}},
			{"since is inclusive", gatehouse.AuditFilter{Since: h(3)}, []int64{4, 5, 6}},
			{"until is exclusive", gatehouse.AuditFilter{Until: h(2)}, []int64{1, 2}},
			{"since and until", gatehouse.AuditFilter{Since: h(1), Until: h(4)}, []int64{2, 3, 4}},
			{"microseconds count", gatehouse.AuditFilter{Since: h(3).Add(time.Microsecond)}, []int64{5, 6}},
			{"after seq", gatehouse.AuditFilter{AfterSeq: 4}, []int64{5, 6}},
			{"limit", gatehouse.AuditFilter{Limit: 2}, []int64{1, 2}},
			{"limit after seq", gatehouse.AuditFilter{AfterSeq: 2, Limit: 2}, []int64{3, 4}},
			{"limit after filtering", gatehouse.AuditFilter{UserID: "alice", Limit: 2}, []int64{1, 3}},
			{"page after filtering", gatehouse.AuditFilter{UserID: "alice", AfterSeq: 3, Limit: 2}, []int64{6}},
			{"everything combined", gatehouse.AuditFilter{Type: "login_success", UserID: "alice", Since: h(1), Until: h(6), AfterSeq: 1, Limit: 5}, []int64{6}},
			{"unknown type", gatehouse.AuditFilter{Type: "nothing"}, nil},
			{"unknown user", gatehouse.AuditFilter{UserID: "dave"}, nil},
			{"empty range", gatehouse.AuditFilter{Since: h(4), Until: h(4)}, nil},
			{"far times", gatehouse.AuditFilter{Since: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), Until: time.Date(9999999, 1, 1, 0, 0, 0, 0, time.UTC)}, []int64{1, 2, 3, 4, 5, 6}},
			{"past the end", gatehouse.AuditFilter{AfterSeq: 6}, nil},
			{"invalid text finds nothing", gatehouse.AuditFilter{UserID: "bob\x00"}, nil},
			{"invalid UTF-8 finds nothing", gatehouse.AuditFilter{Type: "login\xff"}, nil},
		} {
			got, err := s.AuditEvents(ctx, tc.f)
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
				continue
			}
			if !slices.Equal(seqs(got), tc.want) && (len(got) != 0 || len(tc.want) != 0) {
				t.Errorf("%s: got seqs %v, want %v", tc.name, seqs(got), tc.want)
			}
		}
	})

	t.Run("prune", func(t *testing.T) {
		s := migrated(t, newDB)
		ctx := t.Context()
		h := func(n int) time.Time { return testNow.Add(time.Duration(n) * time.Hour) }
		var hashes [][]byte
		add := func(n int) {
			e := appendAudit(t, s, &gatehouse.AuditEvent{Time: h(n), Type: "event", Actor: "u", Detail: map[string]string{"n": fmt.Sprint(n)}})
			if e.Seq != int64(len(hashes)+1) {
				t.Fatalf("append: seq %d, want %d", e.Seq, len(hashes)+1)
			}
			hashes = append(hashes, e.Hash)
		}
		prune := func(before time.Time, want int) {
			t.Helper()
			n, err := s.PruneAudit(ctx, before)
			if err != nil || n != want {
				t.Fatalf("PruneAudit(%v): got %d, %v; want %d", before, n, err, want)
			}
		}

		prune(h(100), 0) // nothing to prune: no anchor
		if anchor, events := walk(t, s); anchor != nil || len(events) != 0 {
			t.Errorf("after pruning nothing: anchor %x, %d events", anchor, len(events))
		}
		for i := range 5 {
			add(i)
		}
		prune(h(0), 0) // nothing older than the first
		if anchor, _ := walk(t, s); anchor != nil {
			t.Errorf("after pruning nothing: anchor %x, want none", anchor)
		}
		prune(h(2), 2) // events 1 and 2
		anchor, events := walk(t, s)
		if !bytes.Equal(anchor, hashes[1]) || !slices.Equal(seqs(events), []int64{3, 4, 5}) {
			t.Errorf("after pruning 2: anchor %x, seqs %v; want the hash of 2 and 3..5", anchor, seqs(events))
		}
		if got, err := s.AuditEvents(ctx, gatehouse.AuditFilter{}); err != nil || !slices.Equal(seqs(got), []int64{3, 4, 5}) {
			t.Errorf("AuditEvents after pruning: got %v, %v", seqs(got), err)
		}
		prune(h(2), 0) // again: nothing more, the anchor stays
		if anchor, _ := walk(t, s); !bytes.Equal(anchor, hashes[1]) {
			t.Errorf("after pruning again: the anchor moved")
		}

		add(5) // seq 6, chained from 5
		prune(h(100), 4)
		// (With no event left, the walk has no call to report the anchor
		// in.)
		if _, events = walk(t, s); len(events) != 0 {
			t.Errorf("after pruning all: seqs %v, want none", seqs(events))
		}
		// Numbering continues after the highest seq ever used, chained
		// from the anchor.
		add(6)
		anchor, events = walk(t, s)
		if !bytes.Equal(anchor, hashes[5]) || !slices.Equal(seqs(events), []int64{7}) || !bytes.Equal(events[0].PrevHash, hashes[5]) {
			t.Errorf("append after pruning all: anchor %x, seqs %v; want 7 chained from the hash of 6", anchor, seqs(events))
		}
	})

	t.Run("concurrent appends", func(t *testing.T) {
		a, b := migratedPair(t, newDB)
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, n)
		got := make(chan int64, n)
		for i := range n {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				e := &gatehouse.AuditEvent{Time: testNow, Type: "event", Detail: map[string]string{"i": fmt.Sprint(i)}}
				if err := s.AppendAudit(t.Context(), e, fakeSeal); err != nil {
					errs <- err
					return
				}
				got <- e.Seq
			})
		}
		wg.Wait()
		close(errs)
		close(got)
		for err := range errs {
			t.Errorf("AppendAudit: %v", err)
		}
		var assigned []int64
		for seq := range got {
			assigned = append(assigned, seq)
		}
		slices.Sort(assigned)
		want := make([]int64, n)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if !slices.Equal(assigned, want) {
			t.Errorf("assigned seqs %v, want 1..%d once each", assigned, n)
		}
		for _, s := range []Store{a, b} {
			anchor, events := walk(t, s)
			if anchor != nil || !slices.Equal(seqs(events), want) {
				t.Errorf("walk: anchor %x, seqs %v; want none and 1..%d", anchor, seqs(events), n)
			}
		}
	})
}
