package workload

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/customerkey/customerkey/client"
	"github.com/customerkey/customerkey/internal/envelope"
	"github.com/customerkey/customerkey/internal/keyring"
	"github.com/customerkey/customerkey/internal/rule"
	"github.com/customerkey/customerkey/internal/store"
)

// The search index of a mailbox is built by the service (SPEC K4: it is
// service-initiated work, which may use the availability key when the
// customer keys fail). It is split so that what one write and one search
// cost does not grow with the mailbox (SPEC D9; docs/search.md):
//
//   - Each word has a tag: HMAC-SHA-256 of the word under a key derived
//     from the mailbox key, 8 bytes (envelope.Tagger). Without the
//     mailbox key a tag names no word, and the same word has unrelated
//     tags in two mailboxes.
//   - A word's postings (the IDs of the items that hold it, sorted) are
//     sealed in pages of at most pageCap IDs, each a row "b:TAG:UPPER" of
//     its own: the page holds the IDs below UPPER (hex of an item ID;
//     "z" for the word's last page, above every hex) and at or above the
//     page before's. A page that grows past pageCap splits in two.
//   - Each indexed item has a sealed row "f:ID" with the version whose
//     words are in the pages and the tags of those words, so a new
//     version or a delete changes only the pages of the words that came
//     or went.
//   - A write leaves a row "p:ID": a small write in the item's own
//     transaction, a large one or a delete before and after it writes.
//     A catch-up a moment later, or the next search, indexes the items
//     those rows name, a batch of up to 256 together (each page a batch
//     touches read and written once), and removes them. A search catches
//     up first, so it sees every write that returned before it.
//   - A search for a word opens the pages of its tag from the cursor on,
//     until it has a page of results.
//
// Every row is sealed like an item, bound to tenant, mailbox, row and
// version (K8), and stored as an item of the container "~index:MAILBOX",
// apart from the mailbox's items (never listed with them, deleted with
// the mailbox). A lease row "l" keeps two service nodes from updating one
// index at the same time; each page write is also a compare-and-set on
// its version.

const (
	legacyIndexID = "~index" // the one-blob index of format 1, replaced on sight
	metaRow       = "m"      // the index's format; missing: build it from the items
	leaseRow      = "l"
	indexFormat   = 4 // 4: rows bound to the index (3: to the mailbox; pages in binary; 2: in JSON)

	// pageCap bounds a posting page: one write rewrites at most one page
	// per word of the item, each of at most pageCap IDs.
	pageCap  = 512
	lastPage = "z" // the upper bound of a word's last page: above any hex
	leaseFor = time.Minute
)

// rebuildBudget bounds the postings a build holds in memory (a variable
// for the tests that make it small).
var rebuildBudget = 1 << 21

// indexDelay gathers the writes of a burst into one catch-up (a search
// catches up first, so a search never waits for it). A variable for the
// tests that leave every catch-up to a search.
var indexDelay atomic.Int64 // nanoseconds

func init() { indexDelay.Store(int64(time.Second)) }

// batchBudget bounds the posting changes one catch-up batch holds in
// memory and writes in one transaction (at least one item goes in a
// batch, however many words it has).
var batchBudget = 1 << 16

func indexRow(m store.Mailbox) string { return "~index:" + m.ID }

func bucketPrefix(tag [envelope.TagLen]byte) string { return "b:" + hex.EncodeToString(tag[:]) + ":" }
func forwardRow(id string) string                   { return "f:" + id }
func pendingRow(id string) string                   { return "p:" + id }

// upper is the hex form of an item ID: hex strings sort like the IDs'
// bytes, in every database collation.
func upper(id string) string { return hex.EncodeToString([]byte(id)) }

// maxWords bounds the distinct words indexed of one item (the first ones,
// in order): each is a posting page read and written, so an item made of
// a million distinct words would otherwise cost a transaction of a million
// rows, gigabytes of memory and minutes of work, repeated at each rewrite.
// A mail of many pages has a few thousand.
const maxWords = 10_000

// words are the distinct lower-case words of content (runs of letters and
// digits, 2-64 bytes), in order, the first maxWords of them. One pass, no
// copy of the content: it runs for every item written.
func words(content []byte) []string {
	seen := map[string]struct{}{}
	var out []string
	word := make([]byte, 0, 64)
	flush := func() {
		if len(word) >= 2 && len(word) <= 64 && len(out) < maxWords {
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

// index is one mailbox's index, opened with its key.
type index struct {
	s   *Service
	t   store.ServiceTenant
	m   store.Mailbox
	ck  *envelope.Key
	tag *envelope.Tagger
	row string // the index's container
	// held is the lease while this process updates the index.
	held *held
}

func (s *Service) openIndex(t store.ServiceTenant, m store.Mailbox, ck *envelope.Key) *index {
	return &index{s: s, t: t, m: m, ck: ck, tag: envelope.NewTagger(ck, "search index", t.ID, m.ID), row: indexRow(m)}
}

func (x *index) close() { x.tag.Destroy() }

func (x *index) prefix(word string) string { return bucketPrefix(x.tag.Tag([]byte(word))) }

// read opens row id (found false if there is none) into v.
func (x *index) read(ctx context.Context, id string, v any) (uint32, bool, error) {
	it, err := x.s.st.Item(ctx, x.t.ID, x.row, id)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	return it.Version, true, x.open(it, v)
}

// errStaleIndex: an index row sealed under an earlier version of the
// mailbox's key, before a move to another DEP. The whole index is then
// made again under the current version (its tags come from the key), and
// no row of the earlier one is read.
var errStaleIndex = errors.New("workload: the search index is under an earlier version of the mailbox's key")

// where binds an index row's ciphertext to the index, not to the mailbox
// (K8): the index's rows have IDs an item may have too ("m", "l"), and
// bound to the mailbox, the index's meta row copied over item "m" opened
// as that item (and an item over the meta row as the index's).
func (x *index) where(id string, version uint32) envelope.Item {
	return envelope.Item{Tenant: x.t.ID, Container: x.row, ID: id, Version: version}
}

// open opens row it, read from the store, into v: a *postings in its
// binary form, anything else as JSON.
func (x *index) open(it store.Item, v any) error {
	if kid, err := envelope.KeyIDOf(it.Sealed); err == nil && kid != KeyID(x.m) {
		return errStaleIndex
	}
	raw, err := envelope.Open(x.ck, x.where(it.ID, it.Version), it.Sealed)
	if err != nil {
		// Sealed as the index was before format 4, bound to the mailbox
		// itself: build it again (such a row may also be one of the
		// mailbox's items, copied here by someone who can write the
		// database; a build reads the items themselves).
		if old, oerr := envelope.Open(x.ck, envelope.Item{Tenant: x.t.ID, Container: x.m.ID, ID: it.ID, Version: it.Version}, it.Sealed); oerr == nil {
			clear(old)
			return errStaleIndex
		}
		x.s.log.Error("workload: search index row does not open", "tenant", x.t.ID, "container", x.m.ID, "row", it.ID, "err", err)
		return rule.Internal(client.RuleItemIntegrity, "rebuild the mailbox's search index (ck mailbox item reindex UPN)", "a row of %s's search index failed its integrity check", x.m.ID)
	}
	defer clear(raw)
	if p, ok := v.(*postings); ok {
		return p.UnmarshalBinary(raw)
	}
	return json.Unmarshal(raw, v)
}

// seal is the write of v, sealed, as row id at version prev+1, if the row
// is still at prev (store.WriteItems).
func (x *index) seal(id string, v any, prev uint32) (store.ItemWrite, error) {
	var raw []byte
	if p, ok := v.(postings); ok {
		raw, _ = p.MarshalBinary()
	} else {
		raw, _ = json.Marshal(v)
	}
	sealed, err := envelope.Seal(x.ck, KeyID(x.m), x.where(id, prev+1), raw)
	clear(raw)
	return store.ItemWrite{Item: store.Item{Tenant: x.t.ID, Mailbox: x.row, ID: id, Kind: "index", Version: prev + 1, Sealed: sealed, Created: x.s.now().UTC()}, Prev: prev}, err
}

// drop is the removal of row id at version v.
func (x *index) drop(id string, v uint32) store.ItemWrite {
	return store.ItemWrite{Item: store.Item{Tenant: x.t.ID, Mailbox: x.row, ID: id}, Prev: v, Delete: true}
}

// rows calls f with the heads of the index rows whose IDs start with
// prefix and sort after from, in order, until f returns false.
func (x *index) rows(ctx context.Context, prefix, from string, batch int, f func(store.Item) (bool, error)) error {
	for {
		heads, err := x.s.st.ListItemHeadsAfter(ctx, x.t.ID, x.row, from, batch)
		if err != nil {
			return err
		}
		for _, h := range heads {
			if !strings.HasPrefix(h.ID, prefix) {
				return nil
			}
			if more, err := f(h); err != nil || !more {
				return err
			}
			from = h.ID
		}
		if len(heads) < batch {
			return nil
		}
	}
}

// postings is a page of a word's postings. Sealed, it is the count and
// then each ID, its length first (unsigned varints): a search opens a
// page of up to pageCap IDs, and JSON cost more than the rest of it.
type postings struct {
	IDs []string // sorted
}

func (p postings) MarshalBinary() ([]byte, error) {
	n := binary.MaxVarintLen64
	for _, id := range p.IDs {
		n += binary.MaxVarintLen64 + len(id)
	}
	b := binary.AppendUvarint(make([]byte, 0, n), uint64(len(p.IDs)))
	for _, id := range p.IDs {
		b = binary.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
	}
	return b, nil
}

var errPostings = errors.New("workload: a search index page is malformed")

func (p *postings) UnmarshalBinary(b []byte) error {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) { // each ID takes at least a byte
		return errPostings
	}
	b = b[k:]
	p.IDs = make([]string, 0, n)
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return errPostings
		}
		p.IDs = append(p.IDs, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return errPostings
	}
	return nil
}

type forward struct {
	Version uint32   `json:"v"`
	Created int64    `json:"c,omitempty"` // the version's write time (ms): a version number comes again after a delete
	Tags    []string `json:"tags"`        // bucket prefixes of the item's words
}

type meta struct {
	Format int `json:"format"`
}

// pageOf finds the page of prefix's word that holds (or would hold) id:
// its row ID (a new last page if the word has none), version and IDs.
func (x *index) pageOf(ctx context.Context, prefix, id string) (string, uint32, postings, error) {
	var p postings
	rows, err := x.s.st.ItemsAfter(ctx, x.t.ID, x.row, prefix+upper(id), 1)
	if err != nil {
		return "", 0, p, err
	}
	if len(rows) == 0 || !strings.HasPrefix(rows[0].ID, prefix) {
		return prefix + lastPage, 0, p, nil
	}
	return rows[0].ID, rows[0].Version, p, x.open(rows[0], &p)
}

// posting is one change to a word's postings: item id added or removed.
type posting struct {
	id  string
	add bool
}

// post applies changes (sorted by item ID, one per ID) to the postings
// of the word whose bucket prefix is prefix, and returns the writes that
// do it. Each page the changes fall in is read and written once, however
// many of them it takes; a page past pageCap splits into pages of at
// most pageCap (the last keeps the row), and an emptied page goes.
func (x *index) post(ctx context.Context, prefix string, changes []posting) ([]store.ItemWrite, error) {
	var ws []store.ItemWrite
	for len(changes) > 0 {
		row, v, p, err := x.pageOf(ctx, prefix, changes[0].id)
		if err != nil {
			return nil, err
		}
		n := len(changes) // the changes in this page's range: below its bound
		if high := row[len(prefix):]; high != lastPage {
			hi, err := hex.DecodeString(high)
			if err != nil {
				return nil, rule.Internal(client.RuleItemIntegrity, "rebuild the mailbox's search index (ck mailbox item reindex UPN)", "a page of %s's search index has a malformed bound", x.m.ID)
			}
			n = max(1, sort.Search(len(changes), func(i int) bool { return changes[i].id >= string(hi) }))
		}
		changed := false
		for _, c := range changes[:n] {
			i, found := slices.BinarySearch(p.IDs, c.id)
			switch {
			case found == c.add:
			case c.add:
				p.IDs, changed = slices.Insert(p.IDs, i, c.id), true
			default:
				p.IDs, changed = slices.Delete(p.IDs, i, i+1), true
			}
		}
		changes = changes[n:]
		switch {
		case !changed:
			continue
		case len(p.IDs) == 0:
			ws = append(ws, x.drop(row, v))
			continue
		}
		pieces := (len(p.IDs) + pageCap - 1) / pageCap
		size := (len(p.IDs) + pieces - 1) / pieces
		for len(p.IDs) > size {
			lower, err := x.seal(pageRow(prefix, upper(p.IDs[size])), postings{IDs: p.IDs[:size]}, 0)
			if err != nil {
				return nil, err
			}
			ws, p.IDs = append(ws, lower), p.IDs[size:]
		}
		w, err := x.seal(row, p, v)
		if err != nil {
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// stamp is what tells one stored version of an item from another: its
// number and its write time (a number comes again after a delete).
type stamp struct {
	version uint32
	created int64 // ms
}

func stampOf(it store.Item) stamp { return stamp{it.Version, it.Created.UnixMilli()} }

// reindex brings the postings of items ids (distinct) up to their stored
// versions, or removes them for an item that is gone, in one transaction
// with their forward rows: a word common to many of them has its page
// read and written once. It takes the items in order until their posting
// changes reach batchBudget, and returns how many it took (ids[:n]) and
// the version indexed of each (0: none). A batch that lost a
// compare-and-set (another node, past its lease) is worked out again.
func (x *index) reindex(ctx context.Context, ids []string) (map[string]stamp, int, error) {
	for attempt := 0; ; attempt++ {
		vs, n, err := x.reindexOnce(ctx, ids)
		if !errors.Is(err, store.ErrConflict) || attempt == 8 {
			return vs, n, err
		}
	}
}

func (x *index) reindexOnce(ctx context.Context, ids []string) (map[string]stamp, int, error) {
	versions := make(map[string]stamp, len(ids))
	changes := map[string][]posting{} // by bucket prefix
	held := 0                         // posting changes in changes
	var ws []store.ItemWrite
	n := 0
	for _, id := range ids {
		if held >= batchBudget {
			break // the rest in the next batch
		}
		n++
		var fw forward
		fv, had, err := x.read(ctx, forwardRow(id), &fw)
		if err != nil {
			return nil, 0, err
		}
		it, err := x.s.st.Item(ctx, x.t.ID, x.m.ID, id)
		gone := errors.Is(err, store.ErrNotFound)
		if err != nil && !gone {
			return nil, 0, err
		}
		if !gone && had && fw.Version == it.Version && fw.Created == it.Created.UnixMilli() {
			versions[id] = stampOf(it)
			continue
		}
		now := map[string]bool{}
		if !gone {
			content, err := x.s.readAll(ctx, x.ck, x.t, x.m, it, indexLimit)
			if err != nil {
				return nil, 0, err
			}
			for _, w := range words(content) {
				now[x.prefix(w)] = true
			}
			clear(content)
		}
		before := map[string]bool{}
		for _, p := range fw.Tags {
			before[p] = true
			if !now[p] {
				changes[p], held = append(changes[p], posting{id: id}), held+1
			}
		}
		for p := range now {
			if !before[p] {
				changes[p], held = append(changes[p], posting{id: id, add: true}), held+1
			}
		}
		switch {
		case !gone:
			tags := make([]string, 0, len(now))
			for p := range now {
				tags = append(tags, p)
			}
			slices.Sort(tags)
			w, err := x.seal(forwardRow(id), forward{Version: it.Version, Created: it.Created.UnixMilli(), Tags: tags}, fv)
			if err != nil {
				return nil, 0, err
			}
			ws, versions[id] = append(ws, w), stampOf(it)
		case had:
			ws, versions[id] = append(ws, x.drop(forwardRow(id), fv)), stamp{}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(changes)) {
		cs := changes[p]
		slices.SortFunc(cs, func(a, b posting) int { return strings.Compare(a.id, b.id) })
		w, err := x.post(ctx, p, cs)
		if err != nil {
			return nil, 0, err
		}
		ws = append(ws, w...)
	}
	if len(ws) == 0 {
		return versions, n, nil
	}
	return versions, n, x.s.st.WriteItems(ctx, ws)
}

// indexer serialises catch-ups per mailbox in this process and schedules
// them after writes.
type indexer struct {
	mu        sync.Mutex
	locks     itemLocks // by tenant/mailbox: one catch-up of a mailbox at a time in this process
	scheduled map[string]bool
	node      string // this process, in the lease row
	// workers bounds the background catch-ups (indexSoon's) that run at
	// once in this process (each may hold an item of up to indexLimit and
	// a batch of postings): writes to many mailboxes in a burst schedule a
	// catch-up for each, which otherwise all ran at once. A search's or a
	// reindex's catch-up, which its caller waits for, takes none: one
	// tenant's long reindex holds up no other tenant's search. running
	// and peak count them (peak: for tests).
	workers       chan struct{}
	running, peak atomic.Int32
}

// indexWorkers is how many background catch-ups run at once.
func indexWorkers() int { return max(2, runtime.GOMAXPROCS(0)) }

// work waits for a worker's turn (or ctx) and returns its end.
func (x *indexer) work(ctx context.Context) (func(), error) {
	select {
	case x.workers <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n := x.running.Add(1)
	for p := x.peak.Load(); n > p && !x.peak.CompareAndSwap(p, n); p = x.peak.Load() {
	}
	return func() { x.running.Add(-1); <-x.workers }, nil
}

// markPending records that item id of m changed, for the next catch-up.
// A write marks before it writes the item (should it stop half-way) and
// after (so a catch-up that ran in between does not miss it).
func (s *Service) markPending(ctx context.Context, t store.ServiceTenant, m store.Mailbox, id string) error {
	return s.st.PutItem(ctx, s.pendingMark(t, m, id))
}

// pendingMark is the row that marks item id of m for the next catch-up
// (a small write puts it in the item's own transaction).
func (s *Service) pendingMark(t store.ServiceTenant, m store.Mailbox, id string) store.Item {
	return store.Item{Tenant: t.ID, Mailbox: indexRow(m), ID: pendingRow(id), Kind: "pending", Version: 1, Sealed: []byte{}, Created: s.now().UTC()}
}

// itemChanged marks item id of m changed and schedules a catch-up of m's
// index shortly, once for a burst.
func (s *Service) itemChanged(ctx context.Context, t store.ServiceTenant, m store.Mailbox, id string) {
	if err := s.markPending(context.WithoutCancel(ctx), t, m, id); err != nil {
		s.log.Warn("workload: could not mark an item for the search index; a reindex brings it in", "tenant", t.ID, "mailbox", m.ID, "item", id, "err", err)
	}
	s.indexSoon(t, m)
}

// indexSoon schedules a catch-up of m's index shortly, once for a burst.
func (s *Service) indexSoon(t store.ServiceTenant, m store.Mailbox) {
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
	time.AfterFunc(time.Duration(indexDelay.Load()), func() {
		x.mu.Lock()
		delete(x.scheduled, key)
		x.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		// Writes to many mailboxes in a burst schedule a catch-up each:
		// they take turns (a search's or a reindex's own catch-up, which
		// its caller waits for, does not).
		done, err := x.work(ctx)
		if err != nil {
			s.log.Warn("workload: search index catch-up did not get its turn; the next write or search catches up", "tenant", t.ID, "mailbox", m.ID, "err", err)
			return
		}
		defer done()
		// A mailbox whose catch-up or reindex is under way is left to it
		// (what it misses, the next write's or search's catch-up takes):
		// waiting for it with a turn held kept other mailboxes' catch-ups
		// waiting, all of them behind one long reindex; and the lock is
		// not taken before the turn, which a search of the mailbox waits
		// for.
		unlock, ok := x.locks.tryLock(key)
		if !ok {
			return
		}
		defer unlock()
		// The mailbox as it is now: a move since the write that asked
		// gave it another key version, which the index must be under.
		now, err := s.st.Mailbox(ctx, t.ID, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			return // deleted meanwhile, with its index
		}
		if err == nil {
			_, _, err = s.catchUpLocked(ctx, t, now, false)
		}
		if err != nil {
			s.log.Warn("workload: search index catch-up failed; the next write or search retries", "tenant", t.ID, "mailbox", m.ID, "err", err)
		}
	})
}

// held is an index lease this process holds.
type held struct {
	x       *index
	node    string
	version uint32
	until   time.Time
}

// lease takes m's index lease for this process, waiting while another
// node holds it.
func (x *index) lease(ctx context.Context) (*held, error) {
	h := &held{x: x, node: "lease:" + x.s.index.node}
	for {
		it, err := x.s.st.Item(ctx, x.t.ID, x.row, leaseRow)
		var prev uint32
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		case it.Kind != h.node && x.s.now().Before(it.Created):
			select { // held by another node: wait for it
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			continue
		default:
			prev = it.Version
		}
		h.version = prev
		if err := h.set(ctx, x.s.now().Add(leaseFor)); errors.Is(err, store.ErrConflict) {
			continue // another node took it first
		} else if err != nil {
			return nil, err
		}
		return h, nil
	}
}

// set writes the lease row, held until until, from the version it holds.
func (h *held) set(ctx context.Context, until time.Time) error {
	x := h.x
	err := x.s.st.WriteItems(ctx, []store.ItemWrite{{Item: store.Item{Tenant: x.t.ID, Mailbox: x.row, ID: leaseRow, Kind: h.node, Version: h.version + 1, Sealed: []byte{}, Created: until.UTC()}, Prev: h.version}})
	if err == nil {
		h.version++
		h.until = until
	}
	return err
}

// renew extends the lease once a third of it has passed; long work
// (a build) calls it as it goes. It fails if the lease was lost.
func (h *held) renew(ctx context.Context) error {
	now := h.x.s.now()
	if h.until.Sub(now) > leaseFor*2/3 {
		return nil
	}
	return h.set(ctx, now.Add(leaseFor))
}

// release gives the lease back.
func (h *held) release(ctx context.Context) {
	if err := h.set(context.WithoutCancel(ctx), time.UnixMilli(0)); err != nil {
		h.x.s.log.Warn("workload: search index lease not released; it runs out", "tenant", h.x.t.ID, "mailbox", h.x.m.ID, "err", err)
	}
}

// catchUpIndex brings m's index up to its items, as the service: it
// indexes the items marked pending, or builds the whole index if it has
// none yet (or rebuild). It returns the items and words indexed by a
// build (0, 0 for a catch-up).
func (s *Service) catchUpIndex(ctx context.Context, t store.ServiceTenant, m store.Mailbox, rebuild bool) (int, int, error) {
	defer s.index.locks.lock(t.ID + "/" + m.ID)()
	return s.catchUpLocked(ctx, t, m, rebuild)
}

// catchUpLocked is catchUpIndex with m's lock held.
func (s *Service) catchUpLocked(ctx context.Context, t store.ServiceTenant, m store.Mailbox, rebuild bool) (int, int, error) {
	ck, err := s.serviceContainerKey(ctx, t, m, "search indexing of "+m.ID)
	if err != nil {
		return 0, 0, err
	}
	defer ck.Destroy()
	x := s.openIndex(t, m, ck)
	defer x.close()
	if !rebuild { // nothing to do (the common case of a search): no lease
		if ok, err := x.current(ctx); ok || err != nil {
			return 0, 0, err
		}
	}
	lease, err := x.lease(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer lease.release(ctx)
	x.held = lease
	var mt meta
	if _, ok, err := x.read(ctx, metaRow, &mt); errors.Is(err, errStaleIndex) {
		return x.build(ctx)
	} else if err != nil {
		return 0, 0, err
	} else if !ok || mt.Format != indexFormat || rebuild {
		return x.build(ctx)
	}
	// Index what the writes marked, a batch at a time, until none is left
	// (or a steady stream of writes has had its share: the next catch-up
	// goes on).
	for round := 0; round < 64; round++ {
		var ids []string
		err := x.rows(ctx, "p:", "p:", 256, func(h store.Item) (bool, error) {
			ids = append(ids, strings.TrimPrefix(h.ID, "p:"))
			return len(ids) < 256, nil
		})
		if err != nil || len(ids) == 0 {
			return 0, 0, err
		}
		if err := x.held.renew(ctx); err != nil {
			return 0, 0, err
		}
		vs, n, err := x.reindex(ctx, ids)
		if err != nil {
			return 0, 0, err
		}
		ids = ids[:n]
		// The marks go in one transaction (one by one if another node took
		// some first); a write that landed after its item was read, and
		// marked before its mark was deleted, is marked again.
		marks := make([]store.ItemWrite, len(ids))
		for i, id := range ids {
			marks[i] = x.drop(pendingRow(id), 1)
		}
		if err := s.st.WriteItems(ctx, marks); errors.Is(err, store.ErrConflict) {
			for _, id := range ids {
				if err := s.st.DeleteItem(ctx, t.ID, x.row, pendingRow(id)); err != nil && !errors.Is(err, store.ErrNotFound) {
					return 0, 0, err
				}
			}
		} else if err != nil {
			return 0, 0, err
		}
		for _, id := range ids {
			v, created, err := s.st.ItemVersion(ctx, t.ID, m.ID, id)
			now := stamp{v, created.UnixMilli()}
			if errors.Is(err, store.ErrNotFound) {
				now, err = stamp{}, nil
			}
			if err != nil {
				return 0, 0, err
			}
			if now != vs[id] {
				if err := s.markPending(ctx, t, m, id); err != nil {
					return 0, 0, err
				}
			}
		}
	}
	return 0, 0, nil
}

// current reports whether the index is built, in this format, with no
// item marked pending.
func (x *index) current(ctx context.Context) (bool, error) {
	// One query: the meta row and the first pending mark, if there is
	// one, are the first two rows after the lease row ("l" < "m" < "p:").
	rows, err := x.s.st.ItemsAfter(ctx, x.t.ID, x.row, leaseRow, 2)
	if err != nil || len(rows) == 0 || rows[0].ID != metaRow {
		return false, err
	}
	var mt meta
	if err := x.open(rows[0], &mt); errors.Is(err, errStaleIndex) {
		return false, nil
	} else if err != nil || mt.Format != indexFormat {
		return false, err
	}
	return len(rows) == 1 || !strings.HasPrefix(rows[1].ID, "p:"), nil
}

// build makes m's index from its items: it drops every row, then reads
// the items once, in the order the database lists them, writing each
// item's forward row. When that order is the IDs' byte order (SQLite;
// PostgreSQL with the C collation), the same pass writes the pages: a
// word's page is written when it holds pageCap IDs, and every word's
// pending IDs when the memory budget is reached (each page ends just
// after its last ID, so the pages to come stay above it). Otherwise it
// drops the pages it wrote and makes them in passes over the forward rows
// (each pass takes the words whose tag falls in its share, sorts their
// postings in memory and writes their pages), as many as the budget needs.
func (x *index) build(ctx context.Context) (int, int, error) {
	st, t := x.s.st, x.t
	if err := x.dropRows(ctx); err != nil {
		return 0, 0, err
	}
	var batch []store.ItemWrite // written a few hundred rows a transaction
	flush := func(over int) error {
		if len(batch) <= over {
			return nil
		}
		err := st.WriteItems(ctx, batch)
		batch = batch[:0]
		if err == nil {
			err = x.held.renew(ctx)
		}
		if err == nil { // a build runs long: a revocation meanwhile stops it (K4, T1)
			err = x.s.deps.CheckRevoked(x.m.DEP)
		}
		return err
	}
	sb := &streamBuild{x: x, bufs: map[string][]string{}, distinct: map[string]bool{}, ordered: true}
	items, total := 0, 0
	after := ""
	for {
		heads, err := st.ListItemHeadsAfter(ctx, t.ID, x.m.ID, after, 500)
		if err != nil {
			return 0, 0, err
		}
		for _, h := range heads {
			after = h.ID
			it, err := st.Item(ctx, t.ID, x.m.ID, h.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile (its mark brings the change)
			} else if err != nil {
				return 0, 0, err
			}
			content, err := x.s.readAll(ctx, x.ck, t, x.m, it, indexLimit)
			if err != nil {
				return 0, 0, err
			}
			ws := words(content)
			clear(content)
			tags := make([]string, len(ws))
			for i, w := range ws {
				tags[i] = x.prefix(w)
			}
			slices.Sort(tags)
			w, err := x.seal(forwardRow(it.ID), forward{Version: it.Version, Created: it.Created.UnixMilli(), Tags: tags}, 0)
			if err != nil {
				return 0, 0, err
			}
			batch = append(batch, w)
			items++
			total += len(tags)
			if sb.ordered && it.ID <= sb.last && sb.last != "" {
				// Not the byte order: the pages are made in passes.
				if err := flush(0); err != nil {
					return 0, 0, err
				}
				if err := sb.abandon(ctx); err != nil {
					return 0, 0, err
				}
			}
			if sb.ordered {
				ps, err := sb.add(it.ID, tags)
				if err != nil {
					return 0, 0, err
				}
				batch = append(batch, ps...)
			}
			if err := flush(499); err != nil {
				return 0, 0, err
			}
		}
		if len(heads) < 500 {
			break
		}
	}
	if sb.ordered {
		ps, err := sb.flushAll(true)
		if err != nil {
			return 0, 0, err
		}
		batch = append(batch, ps...)
		if err := flush(0); err != nil {
			return 0, 0, err
		}
		return items, len(sb.distinct), x.writeMeta(ctx)
	}
	if err := flush(0); err != nil {
		return 0, 0, err
	}
	passes := total/rebuildBudget + 1
	distinct := 0
	for pass := 0; pass < passes; pass++ {
		byTag := map[string][]string{}
		err := x.rows(ctx, "f:", "f:", 500, func(h store.Item) (bool, error) {
			if err := x.held.renew(ctx); err != nil {
				return false, err
			}
			var fw forward
			if _, _, err := x.read(ctx, h.ID, &fw); err != nil {
				return false, err
			}
			id := strings.TrimPrefix(h.ID, "f:")
			for _, p := range fw.Tags {
				if share(p, passes) == pass {
					byTag[p] = append(byTag[p], id)
				}
			}
			return true, nil
		})
		if err != nil {
			return 0, 0, err
		}
		distinct += len(byTag)
		for p, ids := range byTag {
			slices.Sort(ids)
			for i := 0; i < len(ids); i += pageCap {
				j := min(i+pageCap, len(ids))
				row := pageRow(p, lastPage)
				if j < len(ids) {
					row = pageRow(p, upper(ids[j]))
				}
				w, err := x.seal(row, postings{IDs: ids[i:j]}, 0)
				if err != nil {
					return 0, 0, err
				}
				batch = append(batch, w)
				if err := flush(499); err != nil {
					return 0, 0, err
				}
			}
		}
		if err := flush(0); err != nil {
			return 0, 0, err
		}
	}
	return items, distinct, x.writeMeta(ctx)
}

// dropRows deletes every row of the index but the lease.
func (x *index) dropRows(ctx context.Context) error {
	st, t := x.s.st, x.t
	var drop []store.ItemWrite
	dropAll := func() error {
		if err := st.WriteItems(ctx, drop); errors.Is(err, store.ErrConflict) {
			for _, w := range drop { // a mark changed meanwhile: one at a time
				if err := st.DeleteItem(ctx, t.ID, x.row, w.Item.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		} else if err != nil {
			return err
		}
		drop = drop[:0]
		return x.held.renew(ctx)
	}
	err := x.rows(ctx, "", "", 1000, func(h store.Item) (bool, error) {
		if h.ID != leaseRow {
			drop = append(drop, x.drop(h.ID, h.Version))
		}
		if len(drop) < 500 {
			return true, nil
		}
		return true, dropAll()
	})
	if err != nil {
		return err
	}
	if err := dropAll(); err != nil {
		return err
	}
	if err := st.DeleteItem(ctx, t.ID, x.row, legacyIndexID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// streamBuild makes a word's pages as a build reads items in ID order.
type streamBuild struct {
	x        *index
	bufs     map[string][]string // word's bucket prefix -> IDs not yet in a page
	held     int                 // IDs in bufs
	distinct map[string]bool
	written  []string // page rows written, should the order break
	last     string   // the last item's ID
	ordered  bool
}

// add takes an item's words; it returns the pages that are full.
func (b *streamBuild) add(id string, tags []string) ([]store.ItemWrite, error) {
	b.last = id
	var out []store.ItemWrite
	for _, p := range tags {
		b.distinct[p] = true
		b.bufs[p] = append(b.bufs[p], id)
		b.held++
		if len(b.bufs[p]) == pageCap {
			w, err := b.page(p, false)
			if err != nil {
				return nil, err
			}
			out = append(out, w)
		}
	}
	if b.held > rebuildBudget {
		ws, err := b.flushAll(false)
		return append(out, ws...), err
	}
	return out, nil
}

// page writes a word's pending IDs as a page: the word's last (above
// every hex) or one that ends just after its last ID ("00": the hex of
// the smallest ID above it).
func (b *streamBuild) page(p string, last bool) (store.ItemWrite, error) {
	ids := b.bufs[p]
	row := pageRow(p, upper(ids[len(ids)-1])+"00")
	if last {
		row = pageRow(p, lastPage)
	}
	delete(b.bufs, p)
	b.held -= len(ids)
	b.written = append(b.written, row)
	return b.x.seal(row, postings{IDs: ids}, 0)
}

// flushAll writes every word's pending IDs (the last pages, if last).
func (b *streamBuild) flushAll(last bool) ([]store.ItemWrite, error) {
	var out []store.ItemWrite
	for p := range b.bufs {
		w, err := b.page(p, last)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// abandon drops the pages written so far: the database's order is not
// the byte order.
func (b *streamBuild) abandon(ctx context.Context) error {
	b.ordered, b.bufs = false, nil
	for len(b.written) > 0 {
		n := min(len(b.written), 500)
		ws := make([]store.ItemWrite, n)
		for i, row := range b.written[:n] {
			ws[i] = b.x.drop(row, 1)
		}
		if err := b.x.s.st.WriteItems(ctx, ws); err != nil {
			return err
		}
		b.written = b.written[n:]
	}
	return nil
}

// pageRow is the row of the page of bucket prefix p below upper.
func pageRow(p, upper string) string { return p + upper }

// share is the pass of a build that takes the word of bucket prefix p.
func share(p string, passes int) int {
	b, _ := hex.DecodeString(p[2:6])
	return (int(b[0])<<8 | int(b[1])) % passes
}

func (x *index) writeMeta(ctx context.Context) error {
	var old meta
	v, _, err := x.read(ctx, metaRow, &old)
	if err != nil && !errors.Is(err, errStaleIndex) { // replaced as it is
		return err
	}
	w, err := x.seal(metaRow, meta{Format: indexFormat}, v)
	if err != nil {
		return err
	}
	return x.s.st.WriteItems(ctx, []store.ItemWrite{w})
}

// Search returns one page of the IDs of a mailbox's items that hold word,
// in ID order: at most limit after the ID after. It reads the
// service-built index as the user, catching it up first, so it sees every
// write that returned before it; it opens only the pages of the word, from
// after on.
func (s *Service) Search(ctx context.Context, t store.ServiceTenant, upn, word, after string, limit int) ([]string, error) {
	ws := words([]byte(word))
	if len(ws) != 1 {
		return nil, rule.Invalid(client.RuleSearchTerm, "search for one word of 2-64 letters or digits: q=WORD", "%q is not one word", word)
	}
	m, ck, g, err := s.openGuarded(ctx, t, MailboxRef(upn), "search")
	if err != nil {
		return nil, err
	}
	defer ck.Destroy()
	if _, _, err := s.catchUpIndex(ctx, t, m, false); err != nil {
		return nil, err
	}
	// A catch-up can take long (a mailbox's first search builds its
	// index): a caller revoked meanwhile, or a DEP revoked, gets no answer
	// (guard.go; asked only if a second has gone by).
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	x := s.openIndex(t, m, ck)
	defer x.close()
	p := x.prefix(ws[0])
	from, low := p, ""
	if after != "" {
		from = p + upper(after)
	}
	out := []string{}
	for len(out) < limit {
		rows, err := s.st.ItemsAfter(ctx, t.ID, x.row, from, 1)
		if err != nil || len(rows) == 0 || !strings.HasPrefix(rows[0].ID, p) {
			return out, err
		}
		var page postings
		if err := x.open(rows[0], &page); errors.Is(err, errStaleIndex) {
			return nil, rule.Conflict(client.RuleMailboxConcurrent, "search again", "mailbox %s moved to another DEP while it was searched", m.ID)
		} else if err != nil {
			return nil, err
		}
		// The page holds the IDs in [low, high): compared as IDs, not as
		// their hex (the same order), so that no ID is encoded.
		high := rows[0].ID[len(p):]
		var hi []byte
		if high != lastPage {
			if hi, err = hex.DecodeString(high); err != nil {
				return nil, rule.Internal(client.RuleItemIntegrity, "rebuild the mailbox's search index (ck mailbox item reindex UPN)", "a page of %s's search index has a malformed bound", m.ID)
			}
		}
		for _, id := range page.IDs {
			if id <= after || id < low || high != lastPage && id >= string(hi) {
				continue // before the cursor, or outside the page's range
			}
			out = append(out, id)
			if len(out) == limit {
				break
			}
		}
		if high == lastPage {
			break
		}
		from, low = rows[0].ID, string(hi)
	}
	return out, nil
}

// Reindex rebuilds a mailbox's search index for an admin and returns the
// items and words indexed. The admin's request takes the key as a read
// does first (K3: refused when a customer key refuses deliberately; in an
// outage the availability key serves it), then the build runs as the
// service's work; a revocation while it runs refuses the answer. As
// service work alone, it took the availability key with one customer key
// refusing and the other not answering, and told the admin what it read.
func (s *Service) Reindex(ctx context.Context, t store.ServiceTenant, upn string) (int, int, error) {
	m, ck, g, err := s.openGuarded(ctx, t, MailboxRef(upn), "rebuild the search index")
	if err != nil {
		return 0, 0, err
	}
	ck.Destroy()
	items, words, err := s.catchUpIndex(ctx, t, m, true)
	if err == nil {
		err = g.check(ctx)
	}
	if err != nil {
		return 0, 0, err
	}
	return items, words, nil
}

// indexLimit is how much of an item's content the index reads: the first
// 16 MiB of a large attachment.
const indexLimit = 16 << 20
