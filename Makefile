# `make test` is the project's test command (README.md, .ci/run).
GO ?= go

.PHONY: test deps check unit fuzz cross e2e build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/kheaders ./cmd/kheaders

deps:
	./scripts/install-deps.sh
	./scripts/setup-real-inputs.sh

check:
	@# (not `tee /dev/stderr`: opening /dev/stderr truncates a log file stderr is redirected to)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:" $$out >&2; exit 1; fi; echo "gofmt: ok"
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) mod tidy -diff

unit:
	$(GO) test -race -timeout 30m ./...

fuzz:
	./scripts/fuzz-short.sh

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -o /dev/null ./...
	CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./...

e2e:
	./internal/e2e/run.sh

test: deps check cross unit fuzz e2e
