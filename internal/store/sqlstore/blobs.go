package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/customerkey/customerkey/internal/blob"
	"github.com/customerkey/customerkey/internal/store"
)

// ReadBatch is how many chunks Blobs.Read fetches per query (64 sealed
// chunks: about 4 MiB).
const ReadBatch = 64

// Blobs is the database's blob.Store: one row per chunk in svc_blob_chunks
// (migration 0022), so every node over one PostgreSQL database sees the
// same blobs. Each Put is its own statement, durable when it returns.
// Read fetches ReadBatch chunks per query into buffers it reuses, and
// returns the connection before handing them to fn: a slow reader holds
// no connection or transaction, and memory stays one batch.
type Blobs struct {
	s     *DB
	batch int64
}

var _ blob.Store = (*Blobs)(nil)

// Blobs returns the blob store of the database.
func (s *DB) Blobs() *Blobs { return &Blobs{s: s, batch: ReadBatch} }

func (b *Blobs) Put(ctx context.Context, r blob.Ref, seq int64, chunk []byte) error {
	if err := blob.CheckRef(r); err != nil {
		return err
	}
	if err := blob.CheckSeq(seq); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if chunk == nil {
		chunk = []byte{} // data is NOT NULL
	}
	const upsert = `INSERT INTO svc_blob_chunks (tenant, container, blob, seq, data) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant, container, blob, seq) DO UPDATE SET data = excluded.data`
	var err error
	if b.s.d == postgres {
		// An asynchronous commit: PostgreSQL does not wait for the WAL
		// flush of each chunk (one fsync per 64 KiB), Commit does once.
		err = b.s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, b.s.q(upsert), r.Tenant, r.Container, r.ID, seq, chunk)
			return err
		})
	} else {
		// SQLite in WAL mode with synchronous=NORMAL does not fsync a
		// commit either; its checkpoints do (db.go).
		_, err = b.s.exec(ctx, upsert, r.Tenant, r.Container, r.ID, seq, chunk)
	}
	if err != nil {
		return fmt.Errorf("blob %s: chunk %d: %w", r, seq, err)
	}
	return nil
}

// Commit checks that the blob has a chunk, as a directory store does. On
// PostgreSQL it also waits for the WAL flush of the Puts' asynchronous
// commits: it takes a transaction ID, so its own COMMIT writes a commit
// record and, with synchronous_commit on (the server's setting), waits
// until the WAL is flushed up to it, every earlier Put's record included.
// On SQLite there is nothing to do: each Put committed as the rest of the
// store does (WAL, synchronous=NORMAL).
func (b *Blobs) Commit(ctx context.Context, r blob.Ref) error {
	if err := blob.CheckRef(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	const exists = `SELECT 1 FROM svc_blob_chunks WHERE tenant = ? AND container = ? AND blob = ? LIMIT 1`
	var one int
	var err error
	if b.s.d == postgres {
		err = b.s.tx(ctx, func(tx *sql.Tx) error {
			if err := tx.QueryRowContext(ctx, b.s.q(exists), r.Tenant, r.Container, r.ID).Scan(&one); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `SELECT pg_current_xact_id()`)
			return err
		})
	} else {
		err = b.s.queryRow(ctx, exists, r.Tenant, r.Container, r.ID).Scan(&one)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("blob %s: commit: no chunk written: %w", r, blob.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("blob %s: commit: %w", r, err)
	}
	return nil
}

func (b *Blobs) Read(ctx context.Context, r blob.Ref, from, to int64, fn func(seq int64, chunk []byte) error) error {
	if err := blob.CheckRef(r); err != nil {
		return err
	}
	if err := blob.CheckRange(from, to); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := b.s.bstmt(ctx, b.s.q(`SELECT seq, data FROM svc_blob_chunks WHERE tenant = ? AND container = ? AND blob = ? AND seq >= ? AND seq < ? ORDER BY seq`))
	if err != nil {
		return fmt.Errorf("blob %s: %w", r, err)
	}
	var bufs [][]byte
	for next := from; next < to; {
		end := min(next+b.batch, to)
		n, err := fetch(ctx, st, r, next, end, &bufs)
		if err != nil {
			return fmt.Errorf("blob %s: %w", r, err)
		}
		// The rows came in seq order from next: the i-th must be next+i.
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(next, bufs[i]); err != nil {
				return err
			}
			next++
		}
		if next < end {
			return blob.Missing(r, next)
		}
	}
	return nil
}

// fetch reads chunks from..to-1 into bufs (grown and reused), stopping at
// the first gap, and returns how many it read: bufs[i] is chunk from+i.
func fetch(ctx context.Context, st *sql.Stmt, r blob.Ref, from, to int64, bufs *[][]byte) (int, error) {
	rows, err := st.QueryContext(ctx, r.Tenant, r.Container, r.ID, from, to)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var seq int64
		var data sql.RawBytes
		if err := rows.Scan(&seq, &data); err != nil {
			return 0, err
		}
		if seq != from+int64(n) {
			break // a gap: the caller reports chunk from+n missing
		}
		if n == len(*bufs) {
			*bufs = append(*bufs, nil)
		}
		(*bufs)[n] = append((*bufs)[n][:0], data...)
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return n, rows.Close()
}

func (b *Blobs) Delete(ctx context.Context, r blob.Ref) error {
	if err := blob.CheckRef(r); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := b.s.exec(ctx, `DELETE FROM svc_blob_chunks WHERE tenant = ? AND container = ? AND blob = ?`, r.Tenant, r.Container, r.ID); err != nil {
		return fmt.Errorf("blob %s: delete: %w", r, err)
	}
	return nil
}

// DeleteContainer counts the container's blobs and deletes their chunks in
// one transaction. sqlstore's DeleteMailbox deletes them too, in its own
// transaction, for the container it deletes.
func (b *Blobs) DeleteContainer(ctx context.Context, tenant, container string) (int, error) {
	if err := checkContainer(tenant, container); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := b.s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, b.s.q(`SELECT COUNT(DISTINCT blob) FROM svc_blob_chunks WHERE tenant = ? AND container = ?`), tenant, container).Scan(&n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, b.s.q(`DELETE FROM svc_blob_chunks WHERE tenant = ? AND container = ?`), tenant, container)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("blob container %s/%s: delete: %w", tenant, container, err)
	}
	return n, nil
}

// List reads the distinct blob IDs of the container's chunks (through the
// primary key), sorted by their bytes whatever the database's collation.
func (b *Blobs) List(ctx context.Context, tenant, container string) ([]string, error) {
	if err := checkContainer(tenant, container); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ids, err := list(ctx, b.s, func(sc scanner) (string, error) {
		var id string
		err := sc.Scan(&id)
		return id, err
	}, `SELECT DISTINCT blob FROM svc_blob_chunks WHERE tenant = ? AND container = ?`, tenant, container)
	if err != nil {
		return nil, fmt.Errorf("blob container %s/%s: list: %w", tenant, container, err)
	}
	slices.Sort(ids)
	return ids, nil
}

func checkContainer(tenant, container string) error {
	if err := blob.CheckName("tenant", tenant, blob.MaxName); err != nil {
		return err
	}
	return blob.CheckName("container", container, blob.MaxName)
}
