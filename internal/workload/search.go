package workload

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/store"
)

// The per-mailbox search index is built by the service (SPEC K4: it is
// service-initiated work, which may use the availability key when the
// customer keys fail). It is one sealed record, bound like an item to the
// mailbox, stored apart from the items so it never shows as one.
//
// Writes do not touch the index: they mark the mailbox, and a background
// catch-up a moment later brings the index up to the items, however many
// writes came in between. The index records which version of each item it
// holds, so catching up compares it with the items in the store and opens
// only what changed: it converges after a crash, after a lost race between
// two instances, or from an index of an older format. A search catches up
// first, so it always sees every write that returned before it.

const indexID = "~index"

// indexDelay gathers the writes of a burst into one catch-up (each
// catch-up re-seals the whole index; a search catches up first, so a
// search never waits for it).
const indexDelay = time.Second

// indexLimit is how much of an item's content the index reads: the first
// 16 MiB of a large attachment.
const indexLimit = 16 << 20

func indexRow(m store.Mailbox) string { return "~index:" + m.ID }

type searchIndex struct {
	Words   map[string][]string `json:"words"`   // word -> item IDs
	Indexed map[string]uint32   `json:"indexed"` // item ID -> the version whose words are in Words
}

// words are the distinct lower-case words of content (runs of letters and
// digits, 2-64 bytes), in order. One pass, no copy of the content: it runs
// for every item written.
func words(content []byte) []string {
	seen := map[string]struct{}{}
	var out []string
	word := make([]byte, 0, 64)
	flush := func() {
		if len(word) >= 2 && len(word) <= 64 {
			if _, ok := seen[string(word)]; !ok {
				w := string(word)
				seen[w] = struct{}{}
				out = append(out, w)
			}
		}
		word = word[:0]
	}
	for i := 0; i < len(content); {
		c := content[i]
		if c < utf8.RuneSelf { // ASCII
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
				word = append(word, c)
			case 'A' <= c && c <= 'Z':
				word = append(word, c+'a'-'A')
			default:
				flush()
			}
			continue
		}
		r, n := utf8.DecodeRune(content[i:])
		i += n
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			word = utf8.AppendRune(word, unicode.ToLower(r))
		} else {
			flush()
		}
	}
	flush()
	return out
}

// serviceContainerKey unwraps a mailbox's key as service-initiated work.
func (s *Service) serviceContainerKey(ctx context.Context, t store.ServiceTenant, m store.Mailbox, reason string) (*envelope.Key, error) {
	return s.Key(ctx, t, m, keyring.Request{Initiator: keyring.Service, Reason: reason})
}

func (s *Service) loadIndex(ctx context.Context, t store.ServiceTenant, m store.Mailbox, ck *envelope.Key) (searchIndex, uint32, error) {
	idx := searchIndex{Words: map[string][]string{}, Indexed: map[string]uint32{}}
	it, err := s.st.Item(ctx, t.ID, indexRow(m), indexID)
	if errors.Is(err, store.ErrNotFound) {
		return idx, 0, nil
	}
	if err != nil {
		return idx, 0, err
	}
	raw, err := envelope.Open(ck, envelope.Item{Tenant: t.ID, Container: m.ID, ID: indexID, Version: it.Version}, it.Sealed)
	if err != nil {
		return idx, 0, err
	}
	defer clear(raw)
	var stored searchIndex
	if json.Unmarshal(raw, &stored) != nil || stored.Words == nil || stored.Indexed == nil {
		return idx, it.Version, nil // another format: rebuilt by the catch-up
	}
	return stored, it.Version, nil
}

func (s *Service) saveIndex(ctx context.Context, t store.ServiceTenant, m store.Mailbox, ck *envelope.Key, idx searchIndex, prev uint32) error {
	raw, _ := json.Marshal(idx)
	sealed, err := envelope.Seal(ck, KeyID(m), envelope.Item{Tenant: t.ID, Container: m.ID, ID: indexID, Version: prev + 1}, raw)
	clear(raw)
	if err != nil {
		return err
	}
	return s.st.PutItem(ctx, store.Item{Tenant: t.ID, Mailbox: indexRow(m), ID: indexID, Kind: "index", Version: prev + 1, Sealed: sealed, Created: s.now().UTC()})
}

// indexer serialises catch-ups per mailbox and schedules them after writes.
type indexer struct {
	mu        sync.Mutex
	locks     map[string]*sync.Mutex // by tenant/mailbox
	scheduled map[string]bool
}

func (x *indexer) lock(key string) *sync.Mutex {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.locks == nil {
		x.locks = map[string]*sync.Mutex{}
	}
	l, ok := x.locks[key]
	if !ok {
		l = &sync.Mutex{}
		x.locks[key] = l
	}
	return l
}

// itemChanged schedules a catch-up of m's index shortly, once for a burst.
func (s *Service) itemChanged(t store.ServiceTenant, m store.Mailbox) {
	key := t.ID + "/" + m.ID
	x := &s.index
	x.mu.Lock()
	if x.scheduled == nil {
		x.scheduled = map[string]bool{}
	}
	if x.scheduled[key] {
		x.mu.Unlock()
		return
	}
	x.scheduled[key] = true
	x.mu.Unlock()
	time.AfterFunc(indexDelay, func() {
		x.mu.Lock()
		delete(x.scheduled, key)
		x.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, _, err := s.catchUpIndex(ctx, t, m, false); err != nil {
			s.log.Warn("workload: search index catch-up failed; the next write or search retries", "tenant", t.ID, "mailbox", m.ID, "err", err)
		}
	})
}

// catchUpIndex brings m's index up to its items (from nothing if rebuild),
// as the service; it returns the items and words indexed.
func (s *Service) catchUpIndex(ctx context.Context, t store.ServiceTenant, m store.Mailbox, rebuild bool) (int, int, error) {
	l := s.index.lock(t.ID + "/" + m.ID)
	l.Lock()
	defer l.Unlock()
	ck, err := s.serviceContainerKey(ctx, t, m, "search indexing of "+m.ID)
	if err != nil {
		return 0, 0, err
	}
	defer ck.Destroy()
	idx, ver, err := s.loadIndex(ctx, t, m, ck)
	if err != nil {
		return 0, 0, err
	}
	if rebuild {
		idx.Words, idx.Indexed = map[string][]string{}, map[string]uint32{}
	}
	items, err := s.st.ListItemHeads(ctx, t.ID, m.ID) // content is read only for what changed
	if err != nil {
		return 0, 0, err
	}
	stale := map[string]bool{} // items whose words must go
	var fresh []store.Item     // items whose words must come in
	present := map[string]bool{}
	for _, it := range items {
		present[it.ID] = true
		if v, ok := idx.Indexed[it.ID]; !ok || v != it.Version {
			stale[it.ID] = ok
			fresh = append(fresh, it)
		}
	}
	for id := range idx.Indexed {
		if !present[id] {
			stale[id] = true
		}
	}
	if len(stale) == 0 && len(fresh) == 0 && !rebuild {
		return len(idx.Indexed), len(idx.Words), nil
	}
	for w, ids := range idx.Words {
		kept := ids[:0]
		for _, id := range ids {
			if !stale[id] {
				kept = append(kept, id)
			}
		}
		if len(kept) == 0 {
			delete(idx.Words, w)
		} else {
			idx.Words[w] = kept
		}
	}
	for id := range stale {
		delete(idx.Indexed, id)
	}
	for _, head := range fresh {
		it, err := s.st.Item(ctx, t.ID, m.ID, head.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile: the next catch-up drops it
		} else if err != nil {
			return 0, 0, err
		}
		content, err := s.readAll(ctx, ck, t, m, it, indexLimit)
		if err != nil {
			return 0, 0, err
		}
		for _, w := range words(content) {
			idx.Words[w] = append(idx.Words[w], it.ID)
		}
		clear(content)
		idx.Indexed[it.ID] = it.Version
	}
	return len(idx.Indexed), len(idx.Words), s.saveIndex(ctx, t, m, ck, idx, ver)
}

// Search returns the IDs of a mailbox's items that hold word, reading the
// service-built index as the user (it catches up first, so it sees every
// write that returned before it).
func (s *Service) Search(ctx context.Context, t store.ServiceTenant, upn, word string) ([]string, error) {
	m, ck, err := s.open(ctx, t, MailboxRef(upn), "search")
	if err != nil {
		return nil, err
	}
	defer ck.Destroy()
	if _, _, err := s.catchUpIndex(ctx, t, m, false); err != nil {
		return nil, err
	}
	idx, _, err := s.loadIndex(ctx, t, m, ck)
	if err != nil {
		return nil, err
	}
	out := append([]string{}, idx.Words[strings.ToLower(strings.TrimSpace(word))]...)
	sort.Strings(out)
	return out, nil
}

// Reindex rebuilds a mailbox's search index as service-initiated work,
// which may use the availability key when the customer keys fail (K4);
// it returns the items and words indexed.
func (s *Service) Reindex(ctx context.Context, t store.ServiceTenant, upn string) (int, int, error) {
	m, err := s.Mailbox(ctx, t, upn)
	if err != nil {
		return 0, 0, err
	}
	return s.catchUpIndex(ctx, t, m, true)
}
