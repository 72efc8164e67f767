// Package sqlstore implements store.Store over database/sql for two
// dialects: SQLite (modernc.org/sqlite, pure Go, the embedded default) and
// PostgreSQL (pgx). Queries are written once with '?' placeholders; the
// schema is a versioned migration per dialect, embedded and applied at open.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	_ "modernc.org/sqlite"             // registers driver "sqlite"

	"github.com/customerkey/customerkey/internal/store"
)

//go:embed migrations
var migrations embed.FS

type dialect int

const (
	sqlite dialect = iota
	postgres
)

func (d dialect) String() string {
	if d == postgres {
		return "postgres"
	}
	return "sqlite"
}

// DB is a store.Store on a SQL database.
type DB struct {
	db *sql.DB // writes and transactions
	rd *sql.DB // reads; for SQLite a separate pool of read-only connections
	// bd reads blob chunks; for SQLite two read-only connections with a
	// small page cache: a large file's pages, read once, would otherwise
	// fill the read pool's caches (and the process's memory) and evict
	// the pages every other read uses.
	bd *sql.DB
	d  dialect
	// Prepared statements by pool and query text (SQLite would otherwise
	// re-parse the SQL on every call).
	wstmts, rstmts, bstmts sync.Map
	locks                  namedLocks // SQLite's (Lock)
}

var _ store.Store = (*DB)(nil)

// OpenSQLite opens (creating if needed) the SQLite database file at path and
// applies pending migrations.
func OpenSQLite(ctx context.Context, file string) (*DB, error) {
	if err := privateFiles(file); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	dsn := "file:" + file + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-16384)&_pragma=secure_delete(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", file, err)
	}
	// SQLite allows one writer at a time: a single write connection
	// serialises writers in Go instead of in busy-wait loops. In WAL mode
	// readers never wait for the writer, so reads get their own pool.
	db.SetMaxOpenConns(1)
	s, err := open(ctx, db, sqlite)
	if err != nil {
		return nil, err
	}
	rd, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		s.Close()
		return nil, err
	}
	// Keep every connection: a closed one takes its prepared statements
	// with it, and the next would prepare them all again.
	rd.SetMaxOpenConns(4)
	rd.SetMaxIdleConns(4)
	s.rd = rd
	bd, err := sql.Open("sqlite", strings.Replace(dsn, "cache_size(-16384)", "cache_size(-1024)", 1)+"&_pragma=query_only(1)")
	if err != nil {
		s.Close()
		return nil, err
	}
	bd.SetMaxOpenConns(2)
	bd.SetMaxIdleConns(2)
	s.bd = bd
	return s, nil
}

// privateFiles makes the database file readable by its owner only (SPEC
// T9): created empty with mode 0600 before SQLite opens it (SQLite gives
// the -wal and -shm files the database file's mode), and tightened to 0600
// with its -wal and -shm when an earlier version left them readable by
// others.
func privateFiles(file string) error {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, name := range []string{file, file + "-wal", file + "-shm"} {
		fi, err := os.Stat(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, fi.Mode().Perm()&0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

// OpenPostgres connects to PostgreSQL at url (a libpq URL or DSN; add
// search_path=NAME to use a schema) and applies pending migrations.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16) // prepared statements live on their connection
	return open(ctx, db, postgres)
}

func open(ctx context.Context, db *sql.DB, d dialect) (*DB, error) {
	s := &DB{db: db, rd: db, bd: db, d: d}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect %s: %w", d, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	for _, q := range txQueries(d) {
		if _, err := s.stmt(ctx, s.q(q)); err != nil {
			db.Close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error {
	for _, m := range []*sync.Map{&s.wstmts, &s.rstmts, &s.bstmts} {
		m.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	}
	for _, p := range []*sql.DB{s.rd, s.bd} {
		if p != nil && p != s.db {
			p.Close()
		}
	}
	return s.db.Close()
}

// stmt returns a prepared statement of the write pool for query (already
// rebound), preparing it once.
func (s *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return prepared(ctx, s.db, &s.wstmts, query)
}

// rstmt is stmt for the read pool.
func (s *DB) rstmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return prepared(ctx, s.rd, &s.rstmts, query)
}

// bstmt is stmt for the blob read pool.
func (s *DB) bstmt(ctx context.Context, query string) (*sql.Stmt, error) {
	return prepared(ctx, s.bd, &s.bstmts, query)
}

func prepared(ctx context.Context, db *sql.DB, cache *sync.Map, query string) (*sql.Stmt, error) {
	if st, ok := cache.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := cache.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// queryRow runs a single-row read through the statement cache.
func (s *DB) queryRow(ctx context.Context, query string, args ...any) scanner {
	st, err := s.rstmt(ctx, s.q(query))
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

// queryRowToWrite is queryRow on the write connection, for the read a
// write follows at once (an item's version before it is sealed). On
// SQLite each commit invalidates the page cache of every read connection,
// so under a stream of writes a reader fetches every page again; the
// writer's cache stays valid, as it made the last change. (PostgreSQL has
// one pool.)
func (s *DB) queryRowToWrite(ctx context.Context, query string, args ...any) scanner {
	st, err := s.stmt(ctx, s.q(query))
	if err != nil {
		return errRow{err}
	}
	return st.QueryRowContext(ctx, args...)
}

type errRow struct{ err error }

func (e errRow) Scan(...any) error { return e.err }

// Dialect names the database behind s ("sqlite" or "postgres").
func (s *DB) Dialect() string { return s.d.String() }

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, each in its own transaction. Files are named
// NNNN_description.sql and applied in numeric order.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	dir := path.Join("migrations", s.d.String())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migrate: bad migration file name %q (want NNNN_name.sql)", e.Name())
		}
		var n int
		if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if n > 0 {
			continue
		}
		body, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		err = s.tx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range strings.Split(string(body), ";\n") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`), version, e.Name(), time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s %s: %w", s.d, e.Name(), err)
		}
	}
	return nil
}

// q rewrites '?' placeholders to '$n' for PostgreSQL.
func (s *DB) q(query string) string {
	if s.d != postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, s.q(query))
	if err != nil {
		return nil, s.mapErr(err)
	}
	res, err := st.ExecContext(ctx, args...)
	return res, s.mapErr(err)
}

// txExec runs query in tx with the write pool's prepared statement, which
// the transaction's connection already holds. Only statements prepared
// before (txQueries, at open) can be: preparing one now would wait for
// the connection the transaction holds (SQLite's only writer). Others
// run unprepared.
func (s *DB) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	query = s.q(query)
	if st, ok := s.wstmts.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// txQueryRow is txExec for a query that reads one row.
func (s *DB) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	query = s.q(query)
	if st, ok := s.wstmts.Load(query); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// txQueries are prepared when the database opens, for txExec and
// txQueryRow.
func txQueries(d dialect) []string {
	return []string{putItem, deleteItemAt, insertItemNew, updateItemAt, keyVersionOf(d)}
}

func (s *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.mapErr(err)
	}
	return s.mapErr(tx.Commit())
}

// mapErr turns unique-constraint violations into store.ErrConflict and
// sql.ErrNoRows into store.ErrNotFound.
func (s *DB) mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "PRIMARY KEY constraint failed") || strings.Contains(msg, "SQLSTATE 23505") {
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return err
}

func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// Times are stored as Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromNull(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

type scanner interface{ Scan(dest ...any) error }

func fromNanos(v int64) time.Time { return time.Unix(0, v).UTC() }
