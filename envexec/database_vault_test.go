package envexec

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vault-injector/vault-injector/envexec/settings"
	"github.com/vault-injector/vault-injector/internal/pgtest"
)

// dbApp logs in to PostgreSQL with the credentials it got and records who it is.
const dbApp = `trap 'echo term >> "$OUT"; exit 42' TERM
echo "start $$ $PGUSER $(psql -d postgres -tAc 'select current_user' 2>&1)" >> "$OUT"
while :; do sleep 0.1; done
`

// A renewable database lease from Vault's database engine against a real PostgreSQL:
// daemon mode renews it while it can, and when its max TTL nears, replaces it (restart)
// with new credentials that work too.
func TestDaemonDatabaseLeaseRenewedThenReplaced(t *testing.T) {
	t.Parallel()
	if _, err := pgtest.BinDir(); err != nil {
		t.Skip(err)
	}
	pg, err := pgtest.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	f := vault(t)
	f.put(t, "sys/mounts/database", map[string]any{"type": "database"})
	f.put(t, "database/config/pg", map[string]any{
		"plugin_name": "postgresql-database-plugin", "connection_url": pg.URL(), "allowed_roles": "app", "verify_connection": true,
	})
	f.put(t, "database/roles/app", map[string]any{
		"db_name":             "pg",
		"creation_statements": []string{`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`},
		"default_ttl":         "3s", "max_ttl": "8s",
	})
	env, _ := f.env(t,
		"PGUSER=vault:database/creds/app#username", "PGPASSWORD=vault:database/creds/app#password",
		"PGHOST="+pg.Host, "PGPORT="+strconv.Itoa(pg.Port), settings.EnvDaemonGrace+"=2s")
	r := startDaemon(t, env, dbApp)
	waitFor(t, 40*time.Second, "a second application with new credentials", func() bool { return countEvents(r.events(), "start") >= 2 })
	ev := r.events()
	first, second := strings.Fields(ev[0]), strings.Fields(ev[nthEvent(ev, "start", 1)])
	if len(first) != 4 || len(second) != 4 {
		t.Fatalf("events %q: want start PID USER CURRENT_USER", ev)
	}
	if first[2] != first[3] || second[2] != second[3] {
		t.Errorf("events %q: each application must log in to PostgreSQL as the user Vault issued", ev)
	}
	if first[2] == second[2] {
		t.Errorf("events %q: want new credentials after the lease's max TTL", ev)
	}
	stderr := r.stderr()
	for _, want := range []string{`"msg":"renewed lease"`, `"msg":"lease cannot be renewed"`, `"msg":"restarting application with fresh secrets"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %s", want)
		}
	}
	if n := strings.Count(stderr, `"path":"database/creds/app"`); n < 2 {
		t.Errorf("stderr names database/creds/app %d times, want its read and renewals", n)
	}
}
