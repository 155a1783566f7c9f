package revocation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Channel is the Redis pub/sub channel on which instances announce the
// sessions they end.
const Channel = "gatehouse:revocations"

// Redis pub/sub carries revocations between instances at once; the store
// poll (Run) stays the fallback. Pub/sub delivers at most once, to the
// subscribers connected at that moment: a message sent while an instance is
// disconnected from Redis is lost to it, and the poll picks the revocation
// up within one poll interval. So with Redis a revocation is enforced on
// every instance in about the Redis round trip, and without it (or while it
// is down) within the poll interval, as before.
//
// A message is the revocation time in Unix nanoseconds, a space, and the
// session ID.

// Publish announces on Channel that session id ended at at.
func Publish(ctx context.Context, client redis.UniversalClient, id string, at time.Time) error {
	msg := strconv.FormatInt(at.UnixNano(), 10) + " " + id
	if err := client.Publish(ctx, Channel, msg).Err(); err != nil {
		return fmt.Errorf("revocation: publish: %w", err)
	}
	return nil
}

func parseMessage(payload string) (id string, at time.Time, err error) {
	ts, id, ok := strings.Cut(payload, " ")
	n, perr := strconv.ParseInt(ts, 10, 64)
	if !ok || perr != nil || id == "" {
		return "", time.Time{}, fmt.Errorf("revocation: malformed message on %s (%d bytes)", Channel, len(payload))
	}
	return id, time.Unix(0, n), nil
}

// publishQueue bounds the revocations waiting to be published.
const publishQueue = 1024

// Publisher returns a function for SetPublisher that publishes each
// revocation on Channel from one background goroutine, until ctx ends, so
// that Add never waits for Redis. Each publish is bounded by timeout. A
// revocation that cannot be published (Redis down, or more than 1024
// waiting) goes to onErr; the other instances still learn of it from the
// store poll.
func Publisher(ctx context.Context, client redis.UniversalClient, timeout time.Duration, onErr func(error)) func(id string, at time.Time) {
	type rev struct {
		id string
		at time.Time
	}
	q := make(chan rev, publishQueue)
	report := func(err error) {
		if onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-q:
				pctx, cancel := context.WithTimeout(ctx, timeout)
				err := Publish(pctx, client, r.id, r.at)
				cancel()
				if err != nil {
					report(fmt.Errorf("%w (other instances will see it through the store poll)", err))
				}
			}
		}
	}()
	return func(id string, at time.Time) {
		select {
		case q <- rev{id, at}:
		default:
			report(errors.New("revocation: publish queue full; other instances will see the revocation through the store poll"))
		}
	}
}

// Subscribe adds every revocation announced on Channel to the set at once,
// until ctx ends. Entries that arrive this way are not published again.
//
// The subscription reconnects by itself after an error (go-redis PubSub);
// every error goes to onErr, and Subscribe waits a little before trying
// again (up to 10 s), so a Redis outage is logged without flooding the log.
// Meanwhile the store poll keeps the set up to date. A connection that
// stays silent is pinged every 30 s, so a dead one is noticed.
func (s *Set) Subscribe(ctx context.Context, client redis.UniversalClient, onErr func(error)) {
	ps := client.Subscribe(ctx, Channel)
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblock a pending read
	defer stop()
	const (
		idle     = 30 * time.Second
		minPause = 100 * time.Millisecond
		maxPause = 10 * time.Second
	)
	pause := minPause
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, idle)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Silence: check that the connection is alive. A failed
				// ping makes the next receive reconnect.
				if err := ps.Ping(ctx); err == nil {
					continue
				}
			}
			if onErr != nil {
				onErr(fmt.Errorf("revocation: subscription to %s: %w (reconnecting; the store poll still runs)", Channel, err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, maxPause)
			continue
		}
		pause = minPause
		m, ok := msg.(*redis.Message)
		if !ok {
			continue // subscription confirmations and pongs
		}
		id, at, err := parseMessage(m.Payload)
		if err != nil {
			if onErr != nil {
				onErr(err)
			}
			continue
		}
		s.addRemote(id, at)
	}
}
