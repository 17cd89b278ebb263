# ugnos: build, run and test targets. See README for what each one needs.

GO         ?= go
FUZZTIME   ?= 30s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@latest

.PHONY: all build run test bench soak fuzz lint clean

all: build

# build compiles the one binary into bin/ugnos.
build:
	$(GO) build -o bin/ugnos ./cmd/ugnos

# run builds, then starts the server with its defaults (flags and UGNOS_*
# environment variables: see ./bin/ugnos serve -h).
run: build
	./bin/ugnos serve

# test runs every test: the main module with the race detector, then the
# bench module (its own Go module).
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzPlan$$' -fuzztime 15s .
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 10s ./sql/
	$(GO) test -run '^$$' -fuzz '^FuzzMessages$$' -fuzztime 10s ./pgwire/
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...

# bench runs the ingest benchmark, then the Go benchmarks of the main module.
bench:
	cd bench && $(GO) run ./cmd/ugnosbench ingest
	$(GO) test -run '^$$' -bench . -benchmem ./...

# soak runs the crash-recovery tests for many rounds, then the load and
# soak test (64 clients against ugnos serve) for SOAK_DURATION; make test
# runs the latter for 15 s.
SOAK_DURATION ?= 10m
soak:
	UGNOS_CRASH_ROUNDS=200 $(GO) test -count=1 -run 'TestCrash' -timeout 60m .
	UGNOS_SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -v -run '^TestSoak$$' -timeout 60m ./soak/

# fuzz runs every fuzz target for FUZZTIME each (make fuzz FUZZTIME=5m).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzReplay$$' -fuzztime $(FUZZTIME) ./arrowstore/wal/
	$(GO) test -run '^$$' -fuzz '^FuzzSegment$$' -fuzztime $(FUZZTIME) ./arrowstore/segment/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./sql/
	$(GO) test -run '^$$' -fuzz '^FuzzPlan$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzSQL$$' -fuzztime $(FUZZTIME) .
	$(GO) test -run '^$$' -fuzz '^FuzzMessages$$' -fuzztime $(FUZZTIME) ./pgwire/

# lint fails if any file needs gofmt, then runs go vet and staticcheck on
# both modules.
lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd bench && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd bench && $(GO) run $(STATICCHECK) ./...

clean:
	rm -rf bin
