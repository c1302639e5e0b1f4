package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/canonical/go-dqlite/v3/client"
	"github.com/canonical/go-dqlite/v3/driver"
)

// The registry's database handle is its own go-dqlite driver rather than the
// one app.App registers, for one setting the app package does not expose:
// how fast the driver looks for a new leader. After the leader dies every
// connection breaks, and the driver probes the nodes until one says it is
// the leader, sleeping between rounds; go-dqlite's default backoff (100 ms
// doubling to 1 s: rounds at 0, 0.2, 0.6, 1.4, 2.4 s) made the pause after a
// leader's SIGKILL jump to 1.4 s whenever the election (0.3–0.6 s at 20 ms
// network latency) missed the 0.6 s round. Rounds every 10–100 ms find the
// new leader within 100 ms of its election. A round is a few small
// messages to each node, and only while there is no leader.
const (
	leaderBackoffFactor = 10 * time.Millisecond
	leaderBackoffCap    = 100 * time.Millisecond
)

// openDB opens the registry's database through the nodes listed in the
// node's cluster.yaml (which app.App keeps up to date), dialling with dial,
// and waits until a leader answers.
func openDB(ctx context.Context, dqliteDir string, dial client.DialFunc, logf client.LogFunc) (*sql.DB, error) {
	drv, err := driver.New(&yamlNodes{path: filepath.Join(dqliteDir, "cluster.yaml")},
		driver.WithDialFunc(dial),
		driver.WithLogFunc(logf),
		driver.WithConnectionBackoffFactor(leaderBackoffFactor),
		driver.WithConnectionBackoffCap(leaderBackoffCap),
	)
	if err != nil {
		return nil, fmt.Errorf("create dqlite driver: %w", err)
	}
	connector, err := drv.OpenConnector(dbName)
	if err != nil {
		return nil, fmt.Errorf("create dqlite connector: %w", err)
	}
	db := sql.OpenDB(connector)
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return db, nil
		}
		if !errors.Is(err, driver.ErrNoAvailableLeader) && !retryable(err) || ctx.Err() != nil {
			db.Close()
			return nil, err
		}
		select {
		case <-ctx.Done():
			db.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// yamlNodes is the node list app.App maintains in cluster.yaml, read afresh
// whenever the driver needs it (only when the leader it knew is gone).
type yamlNodes struct{ path string }

func (y *yamlNodes) Get(ctx context.Context) ([]client.NodeInfo, error) {
	s, err := client.NewYamlNodeStore(y.path)
	if err != nil {
		return nil, err
	}
	return s.Get(ctx)
}

func (y *yamlNodes) Set(context.Context, []client.NodeInfo) error {
	return errors.New("the registry's node list is app.App's to keep")
}
