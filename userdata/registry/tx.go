package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	dqdriver "github.com/canonical/go-dqlite/v3/driver"
)

// Transactions against dqlite, designed around its failure modes and costs:
//
//   - Each attempt runs on its own sql.Conn with BEGIN IMMEDIATE / COMMIT sent
//     as statements under the caller's deadline (database/sql's Tx.Commit
//     would use a context without one and could hang on a lost quorum).
//     BEGIN IMMEDIATE takes the write lock at once, so a writer waits (busy
//     timeout) instead of failing on a stale snapshot later.
//   - A failed attempt is rolled back explicitly and its connection is
//     discarded: after a failed COMMIT a pooled connection can stay inside a
//     transaction and poison the next user.
//   - Leadership changes surface as driver.ErrBadConn or "no available dqlite
//     leader": the whole transaction is retried, with backoff, until the write
//     deadline. The transaction bodies are idempotent (claim ids, no-op state
//     changes), so a COMMIT that failed but was applied is found, not redone.
//   - Every statement is a network round trip to the leader, and round trips
//     are most of a claim's cost: BEGIN rides along with the transaction's
//     first exec, and the last exec may carry the COMMIT (dqlite runs a
//     multi-statement exec in order and stops at the first error; only one of
//     its statements may take parameters).

// txFunc is a transaction body. It must only change state outside the
// database through values it returns after the commit (it may run again).
type txFunc func(ctx context.Context, t *tx) error

// tx is one attempt's connection, inside BEGIN IMMEDIATE from its first
// statement on.
type tx struct {
	conn      *sql.Conn
	begun     bool
	committed bool
}

// ExecContext runs q in the transaction; the first exec also begins it.
func (t *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if !t.begun {
		t.begun = true
		q = qBegin + "; " + q
	}
	return t.conn.ExecContext(ctx, q, args...)
}

// QueryContext runs q in the transaction (a query cannot carry BEGIN: if it
// comes first, BEGIN goes on its own).
func (t *tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.conn.QueryContext(ctx, q, args...)
}

// scanRow runs a one-row query into dest; sql.ErrNoRows when there is none.
func (t *tx) scanRow(ctx context.Context, q string, args []any, dest ...any) error {
	if err := t.begin(ctx); err != nil {
		return err
	}
	return t.conn.QueryRowContext(ctx, q, args...).Scan(dest...)
}

// execAndCommit runs the transaction's last statement and COMMIT in one round
// trip. An error may mean the statement failed or the COMMIT did: the attempt
// counts as failed and the retry looks its claim ids up.
func (t *tx) execAndCommit(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := t.ExecContext(ctx, q+"; "+qCommit, args...)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	t.committed = true
	return res, nil
}

func (t *tx) begin(ctx context.Context) error {
	if t.begun {
		return nil
	}
	t.begun = true
	if _, err := t.conn.ExecContext(ctx, qBegin); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// write runs fn in a write transaction, retrying retryable failures until the
// write timeout. The error is fn's own, or ErrUnavailable wrapped with the cause.
func (r *Registry) write(ctx context.Context, fn txFunc) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.writeTimeout)
	defer cancel()
	start := time.Now()
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.txOnce(ctx, fn)
		if err == nil {
			return nil
		}
		if !retryable(err) {
			if ctx.Err() != nil {
				return unavailable("took the write", time.Since(start), attempt, err)
			}
			return err
		}
		r.opts.logf("registry: write attempt %d failed, retrying: %v", attempt, err)
		select {
		case <-ctx.Done():
			return unavailable("took the write", time.Since(start), attempt, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// unavailable explains a write or read that found no leader in time.
func unavailable(did string, took time.Duration, attempts int, cause error) error {
	return fmt.Errorf("%w: no leader %s within %s (%d attempts; is a majority of the cluster's nodes up and reachable?): %w",
		regapi.ErrUnavailable, did, took.Round(time.Millisecond), attempts, cause)
}

// txOnce is one attempt: a dedicated connection, the body, COMMIT.
func (r *Registry) txOnce(ctx context.Context, fn txFunc) (err error) {
	c, err := r.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to leader: %w", err)
	}
	t := &tx{conn: c}
	defer func() {
		if err != nil {
			// Bounded, and with its own deadline: ctx may be the reason we fail.
			rctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = c.ExecContext(rctx, qRollback)
			cancel()
			// Returning ErrBadConn from Raw makes database/sql close the
			// connection instead of pooling it.
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = c.Close()
	}()
	if err := fn(ctx, t); err != nil {
		return err
	}
	if t.begun && !t.committed {
		if _, err := c.ExecContext(ctx, qCommit); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		t.committed = true
	}
	if r.faultAfterCommit != nil {
		if err := r.faultAfterCommit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
	}
	return nil
}

// read runs fn on a pooled connection, retrying retryable failures.
func (r *Registry) read(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.writeTimeout)
	defer cancel()
	start := time.Now()
	backoff := 2 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || !retryable(err) && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			return unavailable("answered", time.Since(start), attempt, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// isConstraint reports whether err is an SQLite constraint violation (UNIQUE,
// NOT NULL, CHECK, FOREIGN KEY, …).
func isConstraint(err error) bool {
	var de dqdriver.Error
	return errors.As(err, &de) && de.Code&0xff == 19 /* SQLITE_CONSTRAINT */
}

// retryable reports whether err comes from a leadership change, a lost
// connection or lock contention: the transaction may simply be run again.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, dqdriver.ErrNoAvailableLeader) {
		return true
	}
	var de dqdriver.Error
	if errors.As(err, &de) {
		switch de.Code & 0xff {
		case dqdriver.ErrBusy, 6 /* SQLITE_LOCKED */ :
			return true
		}
		switch de.Code {
		case dqdriver.ErrIoErrNotLeader, dqdriver.ErrIoErrLeadershipLost:
			return true
		}
	}
	// Some paths only keep the message (e.g. errors wrapped by pkg/errors
	// around a failed dial).
	msg := err.Error()
	return strings.Contains(msg, "no available dqlite leader") ||
		strings.Contains(msg, "not leader") ||
		strings.Contains(msg, "leadership lost") ||
		strings.Contains(msg, "database is locked")
}
