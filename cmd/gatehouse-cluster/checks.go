package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// cluster is the three instances under test and the shared environment.
type cluster struct {
	env *env
	c   *client
	in  []*instance // A, B, C
}

// check is the outcome of one check: pass or fail, and what it saw.
type check struct {
	name   string
	ok     bool
	detail string
}

// sharedLimit: POST /v1/users is limited to 5/minute per client IP on every
// instance; ten sign-ups from one address, spread round-robin over the
// three, must get exactly five 201 and five 429. Each instance alone would
// allow 5, so 10 allowed would mean the budget is not shared (Redis).
func (cl *cluster) sharedLimit(ctx context.Context) check {
	hc := cl.c.from("127.0.0.2")
	got := map[int]int{}
	for i := range 10 {
		in := cl.in[i%3]
		a, err := do(ctx, hc, "POST", in.url+"/v1/users", registerBody(fmt.Sprintf("limit-%d", i)), "")
		if err != nil {
			return check{"shared 5/minute limit", false, err.Error()}
		}
		got[a.status]++
	}
	ok := got[201] == 5 && got[429] == 5 && len(got) == 2
	return check{"shared 5/minute limit", ok, fmt.Sprintf("10 sign-ups from one IP over A,B,C: got %s, want 201×5 429×5", counts(got))}
}

// refreshReuse: a refresh token rotated on A and replayed on B is reuse
// (--refresh-grace 0), which ends the family: its successor is refused on C,
// and the successor's access token stops working.
func (cl *cluster) refreshReuse(ctx context.Context) check {
	const name = "refresh reuse ends the family everywhere"
	fail := func(f string, a ...any) check { return check{name, false, fmt.Sprintf(f, a...)} }
	if err := cl.c.register(ctx, cl.in[0], "rita"); err != nil {
		return fail("%v", err)
	}
	t0, err := cl.c.login(ctx, cl.in[0], "rita")
	if err != nil {
		return fail("%v", err)
	}
	a, err := cl.c.refresh(ctx, cl.in[0], t0.refresh)
	if err != nil || a.status != 200 {
		return fail("rotate on A: got %v %v, want 200", a, err)
	}
	t1 := tokens{a.str("access_token"), a.str("refresh_token")}
	if st, _ := cl.c.me(ctx, cl.in[2], t1.access); st != 200 {
		return fail("successor's access token on C before the replay: got %d, want 200", st)
	}
	a, err = cl.c.refresh(ctx, cl.in[1], t0.refresh)
	if err != nil || a.status != 400 || a.str("error") != "invalid_grant" {
		return fail("replay of the rotated token on B: got %v %v, want 400 invalid_grant", a, err)
	}
	ended := time.Now()
	a, err = cl.c.refresh(ctx, cl.in[2], t1.refresh)
	if err != nil || a.status != 400 || a.str("error") != "invalid_grant" {
		return fail("successor on C after the replay: got %v %v, want 400 invalid_grant", a, err)
	}
	d, err := waitStatus(ctx, cl.c, cl.in[2], t1.access, 401, ended, 2*time.Second)
	if err != nil {
		return fail("successor's access token on C: %v", err)
	}
	return check{name, d <= time.Second, fmt.Sprintf("replay on B → 400 invalid_grant; successor on C → 400 invalid_grant; its access token refused on C after %s (want ≤ 1s)", ms(d))}
}

// waitStatus polls GET /v1/users/me on in with access until it answers
// want, and returns the time since from.
func waitStatus(ctx context.Context, c *client, in *instance, access string, want int, from time.Time, limit time.Duration) (time.Duration, error) {
	for {
		st, err := c.me(ctx, in, access)
		if err != nil {
			return 0, err
		}
		d := time.Since(from)
		if st == want {
			return d, nil
		}
		if d > limit {
			return d, fmt.Errorf("got %d for %s, want %d", st, ms(limit), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sessionRevoke: a session ended on A is refused on B and C within 1 s.
// Both had verified its token just before, so it sits in their
// verification caches: the revocation must beat the cache.
func (cl *cluster) sessionRevoke(ctx context.Context) check {
	const name = "session revoked on A refused on B and C"
	fail := func(f string, a ...any) check { return check{name, false, fmt.Sprintf(f, a...)} }
	if err := cl.c.register(ctx, cl.in[0], "sam"); err != nil {
		return fail("%v", err)
	}
	victim, err := cl.c.login(ctx, cl.in[0], "sam")
	if err != nil {
		return fail("%v", err)
	}
	other, err := cl.c.login(ctx, cl.in[1], "sam")
	if err != nil {
		return fail("%v", err)
	}
	for _, in := range cl.in[1:] {
		if st, err := cl.c.me(ctx, in, victim.access); err != nil || st != 200 {
			return fail("token on %s before revocation: got %d %v, want 200", in.name, st, err)
		}
	}
	// The victim session's ID: the one that is not current for other.
	a, err := do(ctx, cl.c.main(), "GET", cl.in[0].url+"/v1/sessions", nil, other.access)
	if err != nil || a.status != 200 {
		return fail("list sessions: got %v %v", a, err)
	}
	var id string
	items, _ := a.json()["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		if cur, _ := m["current"].(bool); !cur {
			id, _ = m["id"].(string)
		}
	}
	if id == "" || len(items) != 2 {
		return fail("list sessions: got %d sessions, want 2 (one current)", len(items))
	}
	a, err = do(ctx, cl.c.main(), "DELETE", cl.in[0].url+"/v1/sessions/"+url.PathEscape(id), nil, other.access)
	if err != nil || a.status != 204 {
		return fail("revoke on A: got %v %v, want 204", a, err)
	}
	revoked := time.Now()
	var mu sync.Mutex
	var lines []string
	ok := true
	var wg sync.WaitGroup
	for _, in := range cl.in[1:] {
		wg.Go(func() {
			d, err := waitStatus(ctx, cl.c, in, victim.access, 401, revoked, 3*time.Second)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || d > time.Second {
				ok = false
			}
			if err != nil {
				lines = append(lines, fmt.Sprintf("%s: %v", in.name, err))
				return
			}
			lines = append(lines, fmt.Sprintf("%s refused it after %s", in.name, ms(d)))
		})
	}
	wg.Wait()
	slices.Sort(lines)
	return check{name, ok, strings.Join(lines, "; ") + " (want ≤ 1s)"}
}

// keyRotation: `gatehouse keys rotate` on the shared database; A (polling
// every second) soon signs with the new key, and the first token it signs
// must verify at once on B and C, which poll only every 10 s (the default).
func (cl *cluster) keyRotation(ctx context.Context) check {
	const name = "rotated key verifies on every instance"
	fail := func(f string, a ...any) check { return check{name, false, fmt.Sprintf(f, a...)} }
	if err := cl.c.register(ctx, cl.in[0], "kim"); err != nil {
		return fail("%v", err)
	}
	t, err := cl.c.login(ctx, cl.in[0], "kim")
	if err != nil {
		return fail("%v", err)
	}
	oldKid := kidOf(t.access)
	kid, err := cl.env.rotateKey(ctx)
	if err != nil {
		return fail("%v", err)
	}
	rotated := time.Now()
	// Refresh on A until it signs with the new key.
	for kidOf(t.access) != kid {
		if time.Since(rotated) > 15*time.Second {
			return fail("A still signs with %s 15 s after the rotation, want %s", kidOf(t.access), kid)
		}
		time.Sleep(50 * time.Millisecond)
		a, err := cl.c.refresh(ctx, cl.in[0], t.refresh)
		if err != nil || a.status != 200 {
			return fail("refresh on A: got %v %v", a, err)
		}
		t = tokens{a.str("access_token"), a.str("refresh_token")}
	}
	signing := time.Since(rotated)
	// Had B and C read the key on their own yet? Their JWKS says (serving
	// it does not reload the ring).
	var unread []string
	for _, in := range cl.in[1:] {
		if a, err := do(ctx, cl.c.main(), "GET", in.url+"/.well-known/jwks.json", nil, ""); err == nil && !strings.Contains(string(a.body), `"kid":"`+kid+`"`) {
			unread = append(unread, in.name)
		}
	}
	var lines []string
	for _, in := range cl.in {
		start := time.Now()
		st, err := cl.c.me(ctx, in, t.access)
		if err != nil || st != 200 {
			return fail("token signed by A with the new key on %s, %s after A began signing with it: got %d %v, want 200",
				in.name, ms(time.Since(rotated)-signing), st, err)
		}
		lines = append(lines, fmt.Sprintf("%s 200 in %s", in.name, ms(time.Since(start))))
	}
	// B and C now publish the key too (the unknown kid reloaded them).
	for _, in := range cl.in[1:] {
		a, err := do(ctx, cl.c.main(), "GET", in.url+"/.well-known/jwks.json", nil, "")
		if err != nil || !strings.Contains(string(a.body), `"kid":"`+kid+`"`) {
			return fail("JWKS of %s after verifying the new key: kid %s missing (%v %v)", in.name, kid, a, err)
		}
	}
	how := "B and C (10 s poll) had both read it already"
	if len(unread) > 0 {
		how = strings.Join(unread, " and ") + " had not polled it yet and reloaded on the unknown kid"
	}
	return check{name, true, fmt.Sprintf("keys rotate %s→%s; A signed with it %s later (its --key-poll-interval 1s); its first such token: %s; %s",
		short(oldKid), short(kid), ms(signing), strings.Join(lines, ", "), how)}
}

// oneAccount: 50 concurrent sign-ups of one username over the three
// instances create exactly one account (the database's unique index, not a
// check-then-insert in each process, decides).
func (cl *cluster) oneAccount(ctx context.Context) check {
	const n = 50
	got := map[int]int{}
	var errs []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		hc := cl.c.fresh() // each from an address of its own: the 5/minute limit stays out of it
		wg.Go(func() {
			<-start
			body := registerBody("highlander")
			body["email"] = fmt.Sprintf("highlander%d@example.com", i)
			a, err := do(ctx, hc, "POST", cl.in[i%3].url+"/v1/users", body, "")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			got[a.status]++
		})
	}
	close(start)
	wg.Wait()
	ok := got[201] == 1 && got[409] == n-1 && len(errs) == 0
	d := fmt.Sprintf("%d concurrent sign-ups of one username over A,B,C: got %s, want 201×1 409×%d", n, counts(got), n-1)
	if len(errs) > 0 {
		d += fmt.Sprintf("; %d transport errors, first: %s", len(errs), errs[0])
	}
	return check{"one account from concurrent sign-ups", ok, d}
}

// crash: writers create notes through all three instances; one is killed
// with SIGKILL in the middle; every create that was acknowledged (2xx) must
// be readable afterwards through the survivors. A 2xx means the commit
// returned, so the row is in PostgreSQL, not in the dead process.
func (cl *cluster) crash(ctx context.Context, victim int) check {
	const name = "no acknowledged write lost to SIGKILL"
	fail := func(f string, a ...any) check { return check{name, false, fmt.Sprintf(f, a...)} }
	if err := cl.c.register(ctx, cl.in[0], "wendy"); err != nil {
		return fail("%v", err)
	}
	t, err := cl.c.login(ctx, cl.in[0], "wendy")
	if err != nil {
		return fail("%v", err)
	}
	const writers = 8
	type acked struct{ id, title string }
	var mu sync.Mutex
	var ack []acked
	failed := 0               // transport errors: the dead instance, or a connection it cut
	statuses := map[int]int{} // answers other than 2xx
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				title := fmt.Sprintf("w%d-%d", w, i)
				in := cl.in[(w+i)%3]
				a, err := do(ctx, cl.c.main(), "POST", in.url+"/v1/notes", map[string]any{"title": title, "body": "<p>crash</p>"}, t.access)
				mu.Lock()
				switch {
				case err != nil:
					failed++
				case a.status/100 == 2:
					ack = append(ack, acked{a.str("id"), title})
				default:
					statuses[a.status]++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond) // the dead instance refuses at once
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	mu.Lock()
	before := len(ack)
	mu.Unlock()
	cl.in[victim].kill()
	killed := cl.in[victim].name
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	survivors := slices.Delete(slices.Clone(cl.in), victim, victim+1)
	lost := 0
	var first string
	for i, n := range ack {
		in := survivors[i%len(survivors)]
		a, err := do(ctx, cl.c.main(), "GET", in.url+"/v1/notes/"+url.PathEscape(n.id), nil, t.access)
		if err != nil || a.status != 200 || a.str("title") != n.title {
			lost++
			if first == "" {
				first = fmt.Sprintf("note %s (%s) on %s: %v %v", n.id, n.title, in.name, a, err)
			}
		}
	}
	d := fmt.Sprintf("%d writers over A,B,C, %s SIGKILLed after %d acknowledged creates; %d acknowledged in all, %d transport errors (refused or cut), other answers: %s; %d lost",
		writers, killed, before, len(ack), failed, counts(statuses), lost)
	if first != "" {
		d += "; first: " + first
	}
	return check{name, lost == 0 && len(ack) > before && before > 0, d}
}

func counts(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d×%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, " ")
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}

func short(kid string) string {
	if len(kid) > 8 {
		return kid[:8] + "…"
	}
	return kid
}
