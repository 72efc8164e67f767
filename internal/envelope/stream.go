package envelope

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Chunked ciphertext (docs/format.md, "Chunked item ciphertext"): the STREAM
// construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) as age and Tink's
// streaming AEAD use it.
//
//	"ckc" ‖ version(1)=2 ‖ the names, version and wrapped item key as in version 1
//	‖ nonce prefix(7)
//	‖ chunk 0 ‖ chunk 1 ‖ ... ‖ chunk n-1
//
// Chunk i is AES-256-GCM under the item key of up to ChunkSize bytes with
// the nonce prefix ‖ u32 i ‖ last (0x01 for chunk n-1, else 0x00) and the
// whole header as associated data. Every chunk but the last holds exactly
// ChunkSize bytes; the last holds 1-ChunkSize bytes, or 0 when the content
// is empty (then it is the only chunk).
const (
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize = 64 << 10

	streamVersion     = 2
	streamPrefixSize  = 7
	chunkOverhead     = TagSize
	encryptedChunk    = ChunkSize + chunkOverhead
	maxStreamChunks   = math.MaxUint32 + 1 // the counter is a u32
	maxStreamHeaderIn = len(ciphertextMagic) + 1 + 3*(2+maxName) + 8 + len(recordMagic) + 4 + maxKeyID + 4 + NonceSize + KeySize + TagSize + streamPrefixSize
)

var errStreamClosed = errors.New("envelope: write to a closed SealWriter")

// Stream seals or opens the chunks of one chunked ciphertext, one at a
// time and in any order: what a store that keeps chunks apart (a blob
// store) and a resumable upload need. Its header is the format's header and
// its chunk i is the format's chunk i, so SealWriter's output and the
// header followed by the chunks are the same bytes. Close destroys the
// item key.
type Stream struct {
	key    *Key
	header []byte
}

// NewStream starts the chunked ciphertext of item it under a fresh item
// key wrapped by the container key (whose ID is containerKeyID).
func NewStream(containerKey *Key, containerKeyID string, it Item) (*Stream, error) {
	if err := it.check(); err != nil {
		return nil, err
	}
	if containerKeyID == "" || len(containerKeyID) > maxKeyID {
		return nil, fmt.Errorf("envelope: key ID must be 1-%d bytes", maxKeyID)
	}
	if containerKey.aead == nil {
		return nil, errors.New("envelope: key destroyed")
	}
	itemKey := NewKey()
	hdr := make([]byte, 0, itemHeaderLen(containerKeyID, it)+streamPrefixSize)
	hdr = appendItemHeader(hdr, streamVersion, containerKey, containerKeyID, it, itemKey)
	hdr = append(hdr, make([]byte, streamPrefixSize)...)
	rand.Read(hdr[len(hdr)-streamPrefixSize:])
	return &Stream{key: itemKey, header: hdr}, nil
}

// OpenStream checks that a chunked ciphertext's header (exactly its bytes,
// nothing after them) belongs to item want and unwraps its item key.
func OpenStream(containerKey *Key, want Item, header []byte) (*Stream, error) {
	h, rest, err := parseItemHeader(header, streamVersion)
	if err != nil {
		return nil, err
	}
	if len(rest) != streamPrefixSize {
		return nil, fmt.Errorf("%w: bad header", errCiphertext)
	}
	itemKey, err := h.itemKey(containerKey, want)
	if err != nil {
		return nil, err
	}
	return &Stream{key: itemKey, header: append([]byte(nil), header...)}, nil
}

// Header returns the ciphertext's header: everything before chunk 0.
func (s *Stream) Header() []byte { return append([]byte(nil), s.header...) }

// Chunks is how many chunks content of size bytes takes: at least one.
func Chunks(size int64) int64 { return max(1, (size+ChunkSize-1)/ChunkSize) }

// SealedSize is the size of chunk i of content of size bytes, sealed.
func SealedSize(size, i int64) int64 {
	if i < Chunks(size)-1 {
		return encryptedChunk
	}
	return size - i*ChunkSize + chunkOverhead
}

func (s *Stream) nonce(i uint64, last byte) [NonceSize]byte {
	var n [NonceSize]byte
	copy(n[:], s.header[len(s.header)-streamPrefixSize:])
	binary.BigEndian.PutUint32(n[streamPrefixSize:], uint32(i))
	n[NonceSize-1] = last
	return n
}

// SealChunk appends chunk i, sealed, to dst. Every chunk but the last
// holds exactly ChunkSize bytes; the last holds 1-ChunkSize bytes, or 0
// when it is the only one.
func (s *Stream) SealChunk(dst []byte, i uint64, plaintext []byte, last bool) ([]byte, error) {
	if s.key == nil {
		return nil, errors.New("envelope: stream closed")
	}
	switch {
	case i >= maxStreamChunks || !last && i == maxStreamChunks-1:
		return nil, errors.New("envelope: content too large for one stream")
	case !last && len(plaintext) != ChunkSize, last && len(plaintext) > ChunkSize, last && len(plaintext) == 0 && i != 0:
		return nil, fmt.Errorf("envelope: chunk %d of %d bytes breaks the chunk sizes", i, len(plaintext))
	}
	n := s.nonce(i, b2u(last))
	return s.key.aead.Seal(dst, n[:], plaintext, s.header), nil
}

// OpenChunk authenticates sealed chunk i (last if it is the ciphertext's
// last) and appends its plaintext to dst. A chunk moved, cut short, of
// another item or changed in any way gives ErrOpen.
func (s *Stream) OpenChunk(dst []byte, i uint64, sealed []byte, last bool) ([]byte, error) {
	if s.key == nil {
		return nil, errors.New("envelope: stream closed")
	}
	if i >= maxStreamChunks || len(sealed) > encryptedChunk || len(sealed) < chunkOverhead ||
		!last && len(sealed) != encryptedChunk || last && len(sealed) == chunkOverhead && i != 0 {
		return nil, ErrOpen
	}
	n := s.nonce(i, b2u(last))
	pt, err := s.key.aead.Open(dst, n[:], sealed, s.header)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Summary is what a chunked ciphertext's summary seals: the content's size
// and its SHA-256, known only once every chunk is written.
type Summary struct {
	Size   int64
	SHA256 [sha256.Size]byte
}

// summaryNonce's last byte is 0x02, which no chunk's nonce has.
const summaryLast = 0x02

// SealSummary seals the content's size and digest under the item key,
// bound to the header.
func (s *Stream) SealSummary(sum Summary) ([]byte, error) {
	if s.key == nil {
		return nil, errors.New("envelope: stream closed")
	}
	if sum.Size < 0 || Chunks(sum.Size) > maxStreamChunks {
		return nil, errors.New("envelope: content too large for one stream")
	}
	pt := binary.BigEndian.AppendUint64(make([]byte, 0, 8+sha256.Size), uint64(sum.Size))
	pt = append(pt, sum.SHA256[:]...)
	n := s.nonce(math.MaxUint32, summaryLast)
	return s.key.aead.Seal(nil, n[:], pt, s.header), nil
}

// OpenSummary opens a summary sealed by SealSummary for this ciphertext.
func (s *Stream) OpenSummary(sealed []byte) (Summary, error) {
	if s.key == nil {
		return Summary{}, errors.New("envelope: stream closed")
	}
	n := s.nonce(math.MaxUint32, summaryLast)
	pt, err := s.key.aead.Open(nil, n[:], sealed, s.header)
	if err != nil || len(pt) != 8+sha256.Size {
		return Summary{}, ErrOpen
	}
	sum := Summary{Size: int64(binary.BigEndian.Uint64(pt))}
	copy(sum.SHA256[:], pt[8:])
	if sum.Size < 0 || Chunks(sum.Size) > maxStreamChunks {
		return Summary{}, ErrOpen
	}
	return sum, nil
}

// noteLast ends a note's nonce: neither a chunk's (0x00, 0x01) nor the
// summary's (0x02).
const noteLast = 0x03

// SealNote seals a short note about the content under the item key,
// bound to the header, with a random nonce (ending in 0x03, which no chunk
// nor summary nonce does): what a resumable upload keeps between parts
// (the running digest), which must never be stored in the clear.
func (s *Stream) SealNote(note []byte) ([]byte, error) {
	if s.key == nil {
		return nil, errors.New("envelope: stream closed")
	}
	out := make([]byte, NonceSize, NonceSize+len(note)+TagSize)
	rand.Read(out[:NonceSize-1])
	out[NonceSize-1] = noteLast
	return s.key.aead.Seal(out, out[:NonceSize], note, s.header), nil
}

// OpenNote opens a note sealed by SealNote for this ciphertext.
func (s *Stream) OpenNote(sealed []byte) ([]byte, error) {
	if s.key == nil {
		return nil, errors.New("envelope: stream closed")
	}
	if len(sealed) < NonceSize+TagSize || sealed[NonceSize-1] != noteLast {
		return nil, ErrOpen
	}
	pt, err := s.key.aead.Open(nil, sealed[:NonceSize], sealed[NonceSize:], s.header)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Close destroys the item key; the Stream seals and opens nothing after.
func (s *Stream) Close() {
	if s.key != nil {
		s.key.Destroy()
		s.key = nil
	}
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// SealWriter returns a writer that seals what is written to it for item it,
// in chunks, under a fresh item key wrapped by the container key (whose ID
// is containerKeyID), and writes the ciphertext to w. The header is written
// before SealWriter returns; Close seals the last chunk and must be called
// (it does not close w). Memory use is one chunk.
func SealWriter(containerKey *Key, containerKeyID string, it Item, w io.Writer) (io.WriteCloser, error) {
	s, err := NewStream(containerKey, containerKeyID, it)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(s.header); err != nil {
		s.Close()
		return nil, err
	}
	return &StreamWriter{s: s, size: -1, own: true, put: func(_ uint64, sealed []byte) error {
		_, err := w.Write(sealed)
		return err
	}, buf: make([]byte, ChunkSize, encryptedChunk)}, nil
}

// Writer returns a writer that seals what is written to it as the chunks
// of this stream from chunk first on, and hands each sealed chunk to put
// (whose slice is valid during the call only). size is the whole content's
// size, or -1 if it is not known: then the last chunk is the one Close
// seals. With a size, the writer seals the last chunk when it is full
// (or at Close), refuses bytes past the size, and Close refuses to end in
// the middle of a chunk that is not the last: a part of a resumable upload
// covers whole chunks. Close does not close the Stream.
func (s *Stream) Writer(first uint64, size int64, put func(i uint64, sealed []byte) error) *StreamWriter {
	return &StreamWriter{s: s, ctr: first, size: size, put: put, buf: make([]byte, ChunkSize, encryptedChunk)}
}

// StreamWriter seals what is written to it chunk by chunk (Stream.Writer).
type StreamWriter struct {
	s    *Stream
	own  bool // Close closes s
	put  func(uint64, []byte) error
	ctr  uint64
	size int64  // the whole content's size, -1 if unknown
	buf  []byte // ChunkSize bytes of plaintext (capacity for the tag)
	n    int    // bytes of buf in use
	err  error
	done bool // wiped (and s closed if own)
}

// lastChunk reports whether chunk ctr is the last one, when the size is known.
func (w *StreamWriter) lastChunk() bool {
	return w.size >= 0 && int64(w.ctr) == Chunks(w.size)-1
}

// room is how many more bytes the content may have from the start of chunk
// ctr (when the size is known).
func (w *StreamWriter) room() int64 { return w.size - int64(w.ctr)*ChunkSize }

func (w *StreamWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	written := 0
	for len(p) > 0 {
		if w.size >= 0 && int64(w.n+len(p)) > w.room() {
			w.err = fmt.Errorf("envelope: content longer than its %d bytes", w.size)
			return written, w.err
		}
		// Without a size, a full chunk is sealed only once more content
		// follows, so the last chunk is never empty unless the whole
		// content is.
		if w.n == ChunkSize {
			if err := w.flush(false); err != nil {
				return written, err
			}
		}
		if w.n == 0 && len(p) > ChunkSize {
			// A whole chunk with more after it: seal it from p, no copy.
			if err := w.sealChunk(p[:ChunkSize], false); err != nil {
				return written, err
			}
			p, written = p[ChunkSize:], written+ChunkSize
			continue
		}
		k := copy(w.buf[w.n:ChunkSize], p)
		w.n += k
		p = p[k:]
		written += k
		if w.size >= 0 && w.n == ChunkSize && !w.lastChunk() { // known not last: seal now
			if err := w.flush(false); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (w *StreamWriter) flush(last bool) error {
	if err := w.sealChunk(w.buf[:w.n], last); err != nil {
		return err
	}
	w.n = 0
	return nil
}

// sealChunk seals plaintext (w.buf or a chunk of the caller's bytes) into
// w.buf and hands it on.
func (w *StreamWriter) sealChunk(plaintext []byte, last bool) error {
	out, err := w.s.SealChunk(w.buf[:0], w.ctr, plaintext, last)
	if err == nil {
		err = w.put(w.ctr, out)
	}
	if err != nil {
		w.err = err
		return err
	}
	w.ctr++
	return nil
}

// Close seals what is left: the last chunk, without a size, or with one
// when the content is complete. After Close, Write fails. Close wipes the
// plaintext the writer holds whether or not a write failed before (call
// it on every path; a second call returns the first's error, or nil).
func (w *StreamWriter) Close() error {
	if w.err != nil {
		w.wipe()
		if w.err == errStreamClosed {
			return nil
		}
		return w.err
	}
	var err error
	switch {
	case w.size < 0 || w.lastChunk() && int64(w.n) == w.room():
		err = w.flush(true)
	case w.n != 0:
		err = fmt.Errorf("envelope: %d bytes end in the middle of chunk %d, which is not the last", w.n, w.ctr)
	}
	w.wipe()
	if err == nil {
		err = errStreamClosed
	}
	w.err = err
	if err == errStreamClosed {
		return nil
	}
	return err
}

// Discard gives the writer up: it wipes the plaintext it holds and seals
// nothing more (a write that failed, or was cut off). Close after Discard
// returns an error; Discard after Close does nothing more.
func (w *StreamWriter) Discard() {
	if w.err == nil {
		w.err = errDiscarded
	}
	w.wipe()
}

var errDiscarded = errors.New("envelope: the writer was discarded")

// wipe clears the plaintext buffer and closes the stream if the writer
// owns it, once.
func (w *StreamWriter) wipe() {
	if w.done {
		return
	}
	w.done = true
	clear(w.buf[:cap(w.buf)])
	if w.own {
		w.s.Close()
	}
}

// readStreamHeader reads a chunked ciphertext's header from r, field by
// field (nothing past it), and checks its syntax.
func readStreamHeader(r io.Reader) ([]byte, headerView, error) {
	var h headerView
	hdr := make([]byte, 0, 256)
	read := func(n int) ([]byte, error) {
		if len(hdr)+n > maxStreamHeaderIn {
			return nil, fmt.Errorf("%w: header too long", errCiphertext)
		}
		hdr = append(hdr, make([]byte, n)...)
		if _, err := io.ReadFull(r, hdr[len(hdr)-n:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("%w: truncated", errCiphertext)
			}
			return nil, err
		}
		return hdr[len(hdr)-n:], nil
	}
	b, err := read(len(ciphertextMagic) + 1)
	if err != nil {
		return nil, h, err
	}
	if string(b[:len(ciphertextMagic)]) != ciphertextMagic || b[len(ciphertextMagic)] != streamVersion {
		return nil, h, fmt.Errorf("%w: not a chunked ciphertext", errCiphertext)
	}
	for range 3 {
		if b, err = read(2); err != nil {
			return nil, h, err
		}
		if n := int(binary.BigEndian.Uint16(b)); n == 0 || n > maxName {
			return nil, h, fmt.Errorf("%w: bad name", errCiphertext)
		} else if _, err = read(n); err != nil {
			return nil, h, err
		}
	}
	if b, err = read(8); err != nil {
		return nil, h, err
	}
	if n := binary.BigEndian.Uint32(b[4:]); n > uint32(maxStreamHeaderIn) {
		return nil, h, fmt.Errorf("%w: bad wrapped item key", errCiphertext)
	} else if _, err = read(int(n)); err != nil {
		return nil, h, err
	}
	if _, err = read(streamPrefixSize); err != nil {
		return nil, h, err
	}
	h, rest, err := parseItemHeader(hdr, streamVersion)
	if err != nil {
		return nil, h, err
	}
	if len(rest) != streamPrefixSize {
		return nil, h, fmt.Errorf("%w: bad header", errCiphertext)
	}
	return hdr, h, nil
}

// OpenReader returns a reader of the content of the chunked ciphertext read
// from r, which must belong to item want. The header is read and the item
// key unwrapped before it returns. Each chunk is authenticated before any
// of its bytes is returned; a truncated, extended, reordered or otherwise
// changed ciphertext gives ErrOpen from Read, so a caller must treat the
// content as valid only once Read has returned io.EOF. Close destroys the
// item key (so does the end of the content or an error).
func OpenReader(containerKey *Key, want Item, r io.Reader) (io.ReadCloser, error) {
	hdr, h, err := readStreamHeader(r)
	if err != nil {
		return nil, err
	}
	itemKey, err := h.itemKey(containerKey, want)
	if err != nil {
		return nil, err
	}
	return newStreamReader(&Stream{key: itemKey, header: hdr}, r, 0, 0, -1), nil
}

// OpenRange returns a reader of n bytes of content from offset off of the
// chunked ciphertext of size bytes in r, which must belong to item want. It
// reads and decrypts only the chunks that hold those bytes. A range past
// the end of the content is cut at the end; an offset past it is an error.
func OpenRange(containerKey *Key, want Item, r io.ReaderAt, size, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 || size < 0 {
		return nil, errors.New("envelope: negative range")
	}
	hdr, h, err := readStreamHeader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, err
	}
	plain, err := ContentSize(size - int64(len(hdr)))
	if err != nil {
		return nil, err
	}
	if off > plain {
		return nil, fmt.Errorf("envelope: offset %d is past the end of %d bytes of content", off, plain)
	}
	n = min(n, plain-off)
	itemKey, err := h.itemKey(containerKey, want)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		itemKey.Destroy()
		return io.NopCloser(eofReader{}), nil
	}
	first := off / ChunkSize
	body := io.NewSectionReader(r, int64(len(hdr))+first*encryptedChunk, size-int64(len(hdr))-first*encryptedChunk)
	return newStreamReader(&Stream{key: itemKey, header: hdr}, body, uint64(first), int(off-first*ChunkSize), n), nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// ContentSize is the content size of a chunked ciphertext whose chunks
// take body bytes (all but the header), or an error if no sequence of
// chunks has that size.
func ContentSize(body int64) (int64, error) {
	if body < chunkOverhead {
		return 0, fmt.Errorf("%w: truncated", errCiphertext)
	}
	chunks := (body + encryptedChunk - 1) / encryptedChunk
	last := body - (chunks-1)*encryptedChunk
	if last < chunkOverhead || (chunks > 1 && last == chunkOverhead) || chunks > maxStreamChunks {
		return 0, fmt.Errorf("%w: bad size", errCiphertext)
	}
	return body - chunks*chunkOverhead, nil
}

type streamReader struct {
	src   io.Reader
	s     *Stream
	ctr   uint64
	buf   []byte // one encrypted chunk and the first byte of the next
	have  int    // bytes of the next chunk already in buf
	plain []byte // decrypted bytes not yet returned
	pbuf  []byte
	skip  int   // bytes to drop from the first chunk
	left  int64 // bytes still to return; -1: all
	err   error // sticky; io.EOF after the last chunk
}

func newStreamReader(s *Stream, src io.Reader, first uint64, skip int, n int64) *streamReader {
	return &streamReader{src: src, s: s, ctr: first, skip: skip, left: n,
		buf: make([]byte, encryptedChunk+1), pbuf: make([]byte, 0, ChunkSize)}
}

// Close destroys the item key and wipes what is left of the content; Read
// returns an error after it.
func (r *streamReader) Close() error {
	if r.err == nil {
		r.fail(errReaderClosed)
	} else {
		r.fail(r.err)
	}
	return nil
}

var errReaderClosed = errors.New("envelope: read from a closed reader")

func (r *streamReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if r.left == 0 && r.err == nil {
		r.fail(io.EOF)
	}
	if len(r.plain) == 0 && r.err == nil && r.skip == 0 && len(p) >= ChunkSize && (r.left < 0 || r.left >= ChunkSize) {
		// A whole chunk fits: decrypt it straight into p, no copy.
		if err := r.next(p[:0]); err != nil {
			r.fail(err)
			return 0, err
		}
		n := len(r.plain)
		r.plain = nil
		if r.left >= 0 {
			r.left -= int64(n)
		}
		return n, nil
	}
	for len(r.plain) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if err := r.next(r.pbuf[:0]); err != nil {
			r.fail(err)
			return 0, err
		}
	}
	if r.left >= 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	if r.left >= 0 {
		r.left -= int64(n)
	}
	return n, nil
}

func (r *streamReader) fail(err error) {
	r.err = err
	r.s.Close()
	clear(r.pbuf[:cap(r.pbuf)])
	r.plain = nil
}

// next reads, authenticates and decrypts one chunk into dst (r.pbuf or the
// caller's buffer) and makes r.plain that chunk's content.
func (r *streamReader) next(dst []byte) error {
	n, err := io.ReadFull(r.src, r.buf[r.have:])
	n += r.have
	last := false
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		last = true
	case err != nil:
		return err
	}
	pt, err := r.s.OpenChunk(dst, r.ctr, r.buf[:min(n, encryptedChunk)], last)
	if err != nil {
		return err
	}
	if last {
		r.have = 0
	} else {
		r.buf[0] = r.buf[encryptedChunk]
		r.have = 1
	}
	r.ctr++
	if r.skip > 0 {
		if r.skip > len(pt) {
			return ErrOpen
		}
		pt, r.skip = pt[r.skip:], 0
	}
	r.plain = pt
	if last && len(pt) == 0 {
		return io.EOF
	}
	if last {
		// Return what is left, then io.EOF: no more chunks may follow.
		r.left = min(r.left, int64(len(pt)))
		if r.left < 0 {
			r.left = int64(len(pt))
		}
	}
	return nil
}
