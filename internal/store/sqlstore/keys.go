package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/customerkey/customerkey/internal/store"
)

const kvCols = `k.name, v.version, v.seq, v.kty, v.size, v.ops, v.enabled, v.nbf, v.exp, v.created, v.updated, v.tags, v.n, v.e, v.sealed, k.deleted_at, k.purge_at`

// scanKV scans the kvCols columns, then any extra destinations.
func scanKV(r scanner, vault string, extra ...any) (store.KeyVersion, error) {
	kv := store.KeyVersion{Vault: vault}
	var ops, tags string
	var enabled, created, updated int64
	var nbf, exp, del, purge sql.NullInt64
	dest := append([]any{&kv.Name, &kv.Version, &kv.Seq, &kv.Kty, &kv.Size, &ops, &enabled, &nbf, &exp, &created, &updated, &tags, &kv.N, &kv.E, &kv.Sealed, &del, &purge}, extra...)
	if err := r.Scan(dest...); err != nil {
		return kv, err
	}
	kv.Enabled = enabled != 0
	kv.NotBefore, kv.Expires = fromNull(nbf), fromNull(exp)
	kv.KeyDeletedAt, kv.KeyPurgeAt = fromNull(del), fromNull(purge)
	kv.Created, kv.Updated = fromMS(created), fromMS(updated)
	if err := json.Unmarshal([]byte(ops), &kv.Ops); err != nil {
		return kv, fmt.Errorf("key %s/%s: corrupt ops: %w", kv.Name, kv.Version, err)
	}
	if err := json.Unmarshal([]byte(tags), &kv.Tags); err != nil {
		return kv, fmt.Errorf("key %s/%s: corrupt tags: %w", kv.Name, kv.Version, err)
	}
	return kv, nil
}

func jsonText(v any) string {
	b, _ := json.Marshal(v) // []string and map[string]string always marshal
	return string(b)
}

func (s *DB) insertVersion(ctx context.Context, tx *sql.Tx, kv store.KeyVersion) error {
	if kv.Tags == nil {
		kv.Tags = map[string]string{}
	}
	if kv.Ops == nil {
		kv.Ops = []string{}
	}
	_, err := tx.ExecContext(ctx, s.q(`INSERT INTO key_versions (vault, lname, version, seq, kty, size, ops, enabled, nbf, exp, created, updated, tags, n, e, sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		strings.ToLower(kv.Vault), strings.ToLower(kv.Name), kv.Version, kv.Seq, kv.Kty, kv.Size, jsonText(kv.Ops), b2i(kv.Enabled),
		msPtr(kv.NotBefore), msPtr(kv.Expires), ms(kv.Created), ms(kv.Updated), jsonText(kv.Tags), kv.N, kv.E, kv.Sealed)
	return err
}

func (s *DB) AddKeyVersion(ctx context.Context, kv store.KeyVersion) (store.KeyVersion, error) {
	vault, lname := strings.ToLower(kv.Vault), strings.ToLower(kv.Name)
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var next int64
		var deleted sql.NullInt64
		var name string
		err := tx.QueryRowContext(ctx, s.q(`SELECT name, next_seq, deleted_at FROM keys WHERE vault = ? AND lname = ?`), vault, lname).Scan(&name, &next, &deleted)
		switch {
		case err == sql.ErrNoRows:
			next = 1
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO keys (vault, lname, name, next_seq) VALUES (?, ?, ?, 1)`), vault, lname, kv.Name); err != nil {
				return err
			}
		case err != nil:
			return err
		case deleted.Valid:
			return fmt.Errorf("%w: key %s is deleted", store.ErrConflict, name)
		default:
			kv.Name = name // keep the name's original spelling
		}
		kv.Seq = next
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE keys SET next_seq = ? WHERE vault = ? AND lname = ?`), next+1, vault, lname); err != nil {
			return err
		}
		return s.insertVersion(ctx, tx, kv)
	})
	return kv, err
}

func (s *DB) Key(ctx context.Context, vault, name string) (store.Key, error) {
	k := store.Key{Vault: strings.ToLower(vault)}
	var del, purge sql.NullInt64
	err := s.queryRow(ctx, `SELECT name, deleted_at, purge_at FROM keys WHERE vault = ? AND lname = ?`, k.Vault, strings.ToLower(name)).Scan(&k.Name, &del, &purge)
	k.DeletedAt, k.PurgeAt = fromNull(del), fromNull(purge)
	return k, s.mapErr(err)
}

func (s *DB) KeyVersion(ctx context.Context, vault, name, version string) (store.KeyVersion, error) {
	vault = strings.ToLower(vault)
	q := `SELECT ` + kvCols + ` FROM key_versions v JOIN keys k ON k.vault = v.vault AND k.lname = v.lname WHERE v.vault = ? AND v.lname = ? `
	args := []any{vault, strings.ToLower(name)}
	if version == "" {
		q += `ORDER BY v.seq DESC LIMIT 1`
	} else {
		q += `AND v.version = ?`
		args = append(args, strings.ToLower(version))
	}
	kv, err := scanKV(s.queryRow(ctx, q, args...), vault)
	return kv, s.mapErr(err)
}

func (s *DB) ListKeys(ctx context.Context, vault string, deleted bool, after string, limit int) ([]store.KeyItem, error) {
	vault = strings.ToLower(vault)
	cond := `k.deleted_at IS NULL`
	if deleted {
		cond = `k.deleted_at IS NOT NULL`
	}
	q := `SELECT ` + kvCols + ` FROM keys k
		JOIN key_versions v ON v.vault = k.vault AND v.lname = k.lname AND v.seq = (SELECT MAX(m.seq) FROM key_versions m WHERE m.vault = k.vault AND m.lname = k.lname)
		WHERE k.vault = ? AND ` + cond + ` AND k.lname > ? ORDER BY k.lname LIMIT ?`
	return list(ctx, s, func(r scanner) (store.KeyItem, error) {
		kv, err := scanKV(r, vault)
		return store.KeyItem{Key: store.Key{Vault: vault, Name: kv.Name, DeletedAt: kv.KeyDeletedAt, PurgeAt: kv.KeyPurgeAt}, Latest: kv}, err
	}, q, vault, strings.ToLower(after), limit)
}

func (s *DB) ListKeyVersions(ctx context.Context, vault, name string, afterSeq int64, limit int) ([]store.KeyVersion, error) {
	vault = strings.ToLower(vault)
	q := `SELECT ` + kvCols + ` FROM key_versions v JOIN keys k ON k.vault = v.vault AND k.lname = v.lname
		WHERE v.vault = ? AND v.lname = ? AND v.seq > ? ORDER BY v.seq LIMIT ?`
	return list(ctx, s, func(r scanner) (store.KeyVersion, error) { return scanKV(r, vault) }, q, vault, strings.ToLower(name), afterSeq, limit)
}

func (s *DB) UpdateKeyVersion(ctx context.Context, kv store.KeyVersion) error {
	if kv.Tags == nil {
		kv.Tags = map[string]string{}
	}
	if kv.Ops == nil {
		kv.Ops = []string{}
	}
	return mustAffect(s.exec(ctx, `UPDATE key_versions SET ops = ?, enabled = ?, nbf = ?, exp = ?, updated = ?, tags = ? WHERE vault = ? AND lname = ? AND version = ?`,
		jsonText(kv.Ops), b2i(kv.Enabled), msPtr(kv.NotBefore), msPtr(kv.Expires), ms(kv.Updated), jsonText(kv.Tags),
		strings.ToLower(kv.Vault), strings.ToLower(kv.Name), kv.Version))
}

func (s *DB) SetKeyDeleted(ctx context.Context, vault, name string, deletedAt, purgeAt *time.Time) error {
	return mustAffect(s.exec(ctx, `UPDATE keys SET deleted_at = ?, purge_at = ? WHERE vault = ? AND lname = ?`,
		msPtr(deletedAt), msPtr(purgeAt), strings.ToLower(vault), strings.ToLower(name)))
}

func (s *DB) PurgeKey(ctx context.Context, vault, name string) error {
	vault, lname := strings.ToLower(vault), strings.ToLower(name)
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM key_versions WHERE vault = ? AND lname = ?`), vault, lname); err != nil {
			return err
		}
		return mustAffect(tx.ExecContext(ctx, s.q(`DELETE FROM keys WHERE vault = ? AND lname = ?`), vault, lname))
	})
}

func (s *DB) RestoreKey(ctx context.Context, vault, name string, versions []store.KeyVersion) error {
	if len(versions) == 0 {
		return fmt.Errorf("restore key %s: no versions", name)
	}
	vault, lname := strings.ToLower(vault), strings.ToLower(name)
	var maxSeq int64
	for _, v := range versions {
		maxSeq = max(maxSeq, v.Seq)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO keys (vault, lname, name, next_seq) VALUES (?, ?, ?, ?)`), vault, lname, name, maxSeq+1); err != nil {
			return err
		}
		for _, v := range versions {
			v.Vault, v.Name = vault, name
			if err := s.insertVersion(ctx, tx, v); err != nil {
				return err
			}
		}
		return nil
	})
}
