package keystore

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// kekLabel prefixes the CKA_LABEL (and CKA_ID) of the KEK objects the
// PKCS#11 keystore makes: "customerkey-kek-" and the version in decimal.
const kekLabel = "customerkey-kek-"

// PKCS11Config says which token holds the KEKs.
type PKCS11Config struct {
	Module     string // the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so
	TokenLabel string
	PIN        string // the user PIN
}

// PKCS11 is the keystore in a PKCS#11 token: each version an AES-256 key
// object made in the token (CKA_TOKEN, CKA_SENSITIVE, not CKA_EXTRACTABLE),
// labelled customerkey-kek-N. Sealing and opening are AES-GCM inside the
// token; no KEK byte ever leaves it. Destroy is C_DestroyObject. The
// versions are read from the token, so service nodes sharing the token
// (a network HSM) see each other's rotations.
type PKCS11 struct {
	ctx *crypto11.Context

	mu   sync.Mutex
	keys map[Version]cipher.AEAD // found in the token, by version
}

var _ Keystore = (*PKCS11)(nil)

// OpenPKCS11 logs into the token.
func OpenPKCS11(c PKCS11Config) (*PKCS11, error) {
	ctx, err := crypto11.Configure(&crypto11.Config{Path: c.Module, TokenLabel: c.TokenLabel, Pin: c.PIN, GCMIVLength: nonceSize})
	if err != nil {
		return nil, fmt.Errorf("keystore pkcs11 (module %s, token %q): %w", c.Module, c.TokenLabel, err)
	}
	return &PKCS11{ctx: ctx, keys: map[Version]cipher.AEAD{}}, nil
}

// versions lists the KEK versions present in the token, ascending.
func (p *PKCS11) versions() ([]Version, error) {
	all, err := p.ctx.FindAllKeys()
	if err != nil {
		return nil, fmt.Errorf("keystore pkcs11: list keys: %w", err)
	}
	var out []Version
	for _, k := range all {
		a, err := p.ctx.GetAttribute(k, crypto11.CkaLabel)
		if err != nil || a == nil {
			continue
		}
		n, ok := strings.CutPrefix(string(a.Value), kekLabel)
		if !ok {
			continue
		}
		v, err := strconv.ParseUint(n, 10, 32)
		if err != nil || v == 0 {
			continue
		}
		out = append(out, Version(v))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Current is the highest version in the token.
func (p *PKCS11) Current(context.Context) (Version, error) {
	vs, err := p.versions()
	if err != nil || len(vs) == 0 {
		return 0, err
	}
	return vs[len(vs)-1], nil
}

func label(v Version) []byte { return []byte(kekLabel + strconv.FormatUint(uint64(v), 10)) }

func (p *PKCS11) aead(v Version) (cipher.AEAD, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a := p.keys[v]; a != nil {
		return a, nil
	}
	ks, err := p.ctx.FindKeys(nil, label(v))
	if err != nil {
		return nil, fmt.Errorf("keystore pkcs11: find version %d: %w", v, err)
	}
	if len(ks) == 0 {
		vs, err := p.versions()
		if err != nil {
			return nil, err
		}
		if len(vs) > 0 && v < vs[len(vs)-1] {
			// Versions only grow and the current one is never destroyed:
			// a missing older one was destroyed.
			return nil, fmt.Errorf("%w: %d", ErrDestroyed, v)
		}
		return nil, fmt.Errorf("%w: %d", ErrUnknownVersion, v)
	}
	a, err := ks[0].NewGCM()
	if err != nil {
		return nil, fmt.Errorf("keystore pkcs11: %w", err)
	}
	p.keys[v] = a
	return a, nil
}

// Seal encrypts inside the token under version v.
func (p *PKCS11) Seal(_ context.Context, v Version, plaintext, aad []byte) (out []byte, err error) {
	a, err := p.aead(v)
	if err != nil {
		return nil, err
	}
	defer func() { // crypto11's AEAD panics where cipher.AEAD cannot return an error
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("keystore pkcs11: seal under version %d: %v", v, r)
			p.forget(v)
		}
	}()
	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+tagSize)
	rand.Read(nonce)
	return a.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts inside the token under version v.
func (p *PKCS11) Open(_ context.Context, v Version, sealed, aad []byte) ([]byte, error) {
	a, err := p.aead(v)
	if err != nil {
		return nil, err
	}
	if len(sealed) < nonceSize+tagSize {
		return nil, errAuth
	}
	out, err := a.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		if errors.Is(err, pkcs11.Error(pkcs11.CKR_OBJECT_HANDLE_INVALID)) || errors.Is(err, pkcs11.Error(pkcs11.CKR_KEY_HANDLE_INVALID)) {
			p.forget(v)
			return nil, fmt.Errorf("%w: %d", ErrDestroyed, v)
		}
		return nil, errAuth
	}
	return out, nil
}

func (p *PKCS11) forget(v Version) {
	p.mu.Lock()
	delete(p.keys, v)
	p.mu.Unlock()
}

// Rotate makes the next version in the token.
func (p *PKCS11) Rotate(ctx context.Context) (Version, error) {
	cur, err := p.Current(ctx)
	if err != nil {
		return 0, err
	}
	next := cur + 1
	attrs, err := crypto11.NewAttributeSetWithIDAndLabel(label(next), label(next))
	if err != nil {
		return 0, err
	}
	// crypto11 adds CKA_TOKEN, CKA_SENSITIVE and CKA_EXTRACTABLE=false;
	// say so here as well, so a change of its defaults cannot loosen them.
	attrs.AddIfNotPresent([]*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
	})
	if _, err := p.ctx.GenerateSecretKeyWithAttributes(attrs, 256, crypto11.CipherAES); err != nil {
		return 0, fmt.Errorf("keystore pkcs11: generate version %d: %w", next, err)
	}
	return next, nil
}

// Destroy destroys the key objects of every version up to upTo.
func (p *PKCS11) Destroy(ctx context.Context, upTo Version) ([]Version, error) {
	vs, err := p.versions()
	if err != nil {
		return nil, err
	}
	if len(vs) > 0 && upTo >= vs[len(vs)-1] {
		return nil, fmt.Errorf("%w (version %d)", ErrCurrent, vs[len(vs)-1])
	}
	var gone []Version
	for _, v := range vs {
		if v > upTo {
			break
		}
		ks, err := p.ctx.FindKeys(nil, label(v))
		if err != nil {
			return gone, fmt.Errorf("keystore pkcs11: find version %d: %w", v, err)
		}
		for _, k := range ks {
			if err := k.Delete(); err != nil {
				return gone, fmt.Errorf("keystore pkcs11: destroy version %d: %w", v, err)
			}
		}
		p.forget(v)
		gone = append(gone, v)
	}
	return gone, nil
}

// Close logs out of the token.
func (p *PKCS11) Close() error {
	p.mu.Lock()
	clear(p.keys)
	p.mu.Unlock()
	return p.ctx.Close()
}
