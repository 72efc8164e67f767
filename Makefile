# customerkey: the README's test command is `make test`; .ci/run calls it.

GO ?= go

.PHONY: test lint run bench fuzz

# Vet, then every package's tests with the race detector, but cmd/ck's.
# Those run ck itself as processes (CLI sessions, the crash test, three
# server nodes): built with -race they took 8-10 min of the 2-core CI
# budget alone, against about 1 min without; the code they drive is tested
# with -race in its own packages, where its concurrency is exercised.
# TestLargeFile sends 2 GiB through a ck dev (35-55 s here, about 2.5 GiB of
# temporary disk); -short skips it.
# The search test on a 200k-item mailbox runs without -race too (~80 s;
# with it, it takes 5k items: the build would take some 20 min).
# PostgreSQL tests run when CK_TEST_POSTGRES_URL is set (.ci/run sets it)
# and skip, saying so, otherwise. cmd/ck's tests include the web console's
# browser tests (testdata/script/dev_console.txt, about a minute), which
# skip, saying why, without /usr/bin/chromium, node or the e2e node_modules.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/cmd/ck$$')
	$(GO) test -count=1 -run '^TestSearchAndListAtScale$$' ./internal/workload/
	$(GO) test -count=1 ./cmd/ck/

# golangci-lint (.golangci.yml: vet, staticcheck, errcheck, ineffassign,
# unused, and depguard holding DESIGN.md's import rules), built from the Go
# module proxy at a pinned version; never a downloaded binary. Measured on
# 2 shared cores: ~3 min when the build cache is empty (building the linter
# and loading the packages), ~20 s after.
GOLANGCI_LINT_VERSION ?= v2.15.0

lint:
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) run ./...

run:
	$(GO) run ./cmd/ck dev

# Server scenarios with their same-run baselines (docs/performance.md).
# The files scenario takes 5-6 min (1 GiB and 2 GiB files, three rounds).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 3s ./internal/vault/
	$(GO) run ./bench -scenario vault -duration 5s
	$(GO) test -run '^$$' -bench Stream -benchtime 4x ./internal/envelope/
	$(GO) run ./bench -scenario files

# A minute of fuzzing per target.
fuzz:
	for f in FuzzKeysAPI FuzzParseBackup FuzzPrivateFromJWK FuzzDecodeB64; do \
		$(GO) test ./internal/vault/ -run '^$$' -fuzz "^$$f$$" -fuzztime 60s || exit 1; \
	done
