# customerkey: the README's test command is `make test`; .ci/run calls it.

GO ?= go

.PHONY: test run bench fuzz

# Vet, then every test with the race detector. PostgreSQL tests run when
# CK_TEST_POSTGRES_URL is set (.ci/run sets it) and skip, saying so, otherwise.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

run:
	$(GO) run ./cmd/ck dev

# Server scenarios with their same-run baselines (docs/performance.md).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./internal/vault/
	$(GO) run ./bench -scenario vault -duration 5s

# A minute of fuzzing per target.
fuzz:
	for f in FuzzKeysAPI FuzzParseBackup FuzzPrivateFromJWK FuzzDecodeB64; do \
		$(GO) test ./internal/vault/ -run '^$$' -fuzz "^$$f$$" -fuzztime 60s || exit 1; \
	done
