# The robot's everyday commands. `make help` lists them.

GO       ?= go
FUNCTIONS := conversation reply
LOCAL    := .local

.PHONY: help build run test bench vet fmt clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## Build static linux/amd64 programs for FC into dist/<function>/bootstrap
	@for f in $(FUNCTIONS); do \
		echo "building dist/$$f/bootstrap"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags='-s -w' -o dist/$$f/bootstrap ./cmd/$$f || exit 1; \
	done

run: ## Run the whole robot here, with a DingTalk simulator in the terminal
	@mkdir -p $(LOCAL)/bin
	@$(GO) build -o $(LOCAL)/bin/ ./cmd/conversation ./cmd/reply ./cmd/local
	@$(LOCAL)/bin/local -bin $(LOCAL)/bin -data $(LOCAL)/oss -logs $(LOCAL)/logs

test: ## Run every test, offline: unit, fuzz seeds, each benchmark briefly, end-to-end with the real programs
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 10m $$($(GO) list ./... | grep -v /internal/e2e)
	@echo "benchmarks, 100 iterations each: they must keep running; their times are not checked"
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 100x $$($(GO) list ./... | grep -v /internal/e2e)
	@echo "end-to-end: the real programs, the local FC, fake DingTalk and model"
	$(GO) test -count=1 -timeout 10m -v ./internal/e2e/

bench: ## Measure speed, memory and cost here (about two minutes); prints the table, writes docs/performance.md
	GO=$(GO) $(GO) run ./cmd/bench

vet: ## go vet
	$(GO) vet ./...

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## Remove what the build and local runs made
	rm -rf dist $(LOCAL)
