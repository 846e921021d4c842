# sc115 — the two commands a new user needs: `make run` and `make test`.
GO        ?= go
CONFIG    ?= deploy/examples/region-hannover.yaml
# make demo runs on a copy of CONFIG that is open around the clock (the
# example's Mon–Fri 08–18 would greet an evening demo with "closed").
DEMO_HOURS = sed -e 's/^    weekly: {mon: "08:00-18:00".*/    weekly: {mon: "00:00-23:59", tue: "00:00-23:59", wed: "00:00-23:59", thu: "00:00-23:59", fri: "00:00-23:59", sat: "00:00-23:59", sun: "00:00-23:59"}/' \
	-e 's/^    holidays: NI .*/    holidays: none/' -e 's/^    closed_days: .*/    closed_days: []/'
BIN       := bin/sc115
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
STATICCHECK := $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run build test bench lint fmt clean demo generate

## run: start sc115 on the Region Hannover example with the embedded store
run: build
	./$(BIN) serve --config $(CONFIG) --log-format console

## demo: sc115 on the example plus `sc115 simulate` at a gentle rate:
## calls flow on /metrics and the wallboard (http://127.0.0.1:8115/) at once
demo: build
	@mkdir -p var; $(DEMO_HOURS) $(CONFIG) > var/demo.yaml; \
	./$(BIN) serve --config var/demo.yaml --log-format console > var/demo-sc115.log 2>&1 & echo $$! > var/demo.pid; \
	trap 'kill $$(cat var/demo.pid) 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 1 100); do curl -sf http://127.0.0.1:8115/readyz >/dev/null 2>&1 && break; sleep 0.2; done; \
	echo "sc115 runs (log: var/demo-sc115.log); wallboard http://127.0.0.1:8115/ (user aufsicht), metrics http://127.0.0.1:8115/metrics"; \
	./$(BIN) simulate --config var/demo.yaml --rate 0.1 --calls 300 --talk 15s --wrapup-mean 5s --patience 120s

## build: compile bin/sc115
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/sc115

## generate: rebuild the committed eBPF object of the kernel RTP forwarder
## (sip/media/kernel/forward.c; needs clang and libbpf-dev from Debian)
generate:
	$(GO) generate ./sip/media/kernel/

## test: the whole suite with the race detector (real-peer tests skip unless
## their program is installed; SC115_INTEROP=required makes them fail instead).
## -p 1: one package at a time — the load and timing tests (10,000 calls on
## three engines, leases with a 7 s TTL, RTP pacing) need the two cores.
test:
	$(GO) test -race -count=1 -p 1 -timeout 20m ./...

## bench: Go benchmarks (numbers and commands in BENCHMARKS.md)
bench:
	$(GO) test -timeout 60m -run '^$$' -bench 'Relay|GeneratedFrame' -benchmem -benchtime 200000x ./sip/media/
	$(GO) test -timeout 60m -run '^$$' -bench 'HoldStreams|BridgedCalls' -benchtime 1x ./sip/media/
	$(GO) test -timeout 60m -run '^$$' -bench EnqueueAndMatch -benchtime 3000x ./queue/
	$(GO) test -timeout 60m -run '^$$' -bench RedisCommandsPerCall -benchtime 500x ./acd/
	$(GO) test -timeout 60m -run '^$$' -bench BillMonth -benchtime 2x ./cdr/billing/
	$(GO) test -timeout 60m -run '^$$' -bench CallsThroughAgent -benchtime 6000x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench CallsDuringInviteFlood -benchtime 1x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench Surge -benchtime 1x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench CallsWithWallboardViewers -benchtime 1000x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench SimulateLoadGenerator -benchtime 1x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench MemoryPerLiveCall -benchtime 1x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench CallsWithRTP -benchtime 1x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench HoldThroughBinary -benchtime 1x ./cmd/sc115/
	$(GO) test -timeout 60m -run '^$$' -bench RegisterThroughBinary -benchtime 1x ./cmd/sc115/

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

clean:
	rm -rf bin var
