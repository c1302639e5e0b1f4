# packer-plugin-jitsi — build, test and demo. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

BINARY   := packer-plugin-jitsi
GOTAGS   := libsqlite3
# libdqlite is linked statically so Packer can load the plugin on machines
# without libdqlite; libuv, liblz4 and libsqlite3 stay dynamic (Debian base libs).
export CGO_LDFLAGS := -Wl,-Bstatic -ldqlite -Wl,-Bdynamic -luv -llz4 -lsqlite3
export CGO_ENABLED := 1
GO       ?= go
DEMO_DIR ?= $(CURDIR)/demo-out
# The node agent: static (no cgo), one binary per image architecture.
AGENT       := jitsi-node
AGENT_ARCHS := amd64 arm64
AGENT_BINS  := $(foreach a,$(AGENT_ARCHS),dist/$(AGENT)_linux_$(a))
# VERSION=x.y.z stamps a release into both binaries (default: version/version.go's).
VERSION_LDFLAGS := $(if $(VERSION),-X github.com/jitsi-packer/packer-plugin-jitsi/version.Version=$(VERSION) -X github.com/jitsi-packer/packer-plugin-jitsi/version.VersionPrerelease=)
# make release: where, and for which platforms (internal/release/mkrelease).
RELEASE_DIR       ?= release
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64
ifneq ($(filter release,$(MAKECMDGOALS)),)
ifeq ($(VERSION),)
$(error make release needs VERSION=x.y.z, e.g. `make release VERSION=0.2.0`)
endif
endif

.PHONY: help deps deps-demo deps-release build agent release test generate demo e2e e2e-matrix clean

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

deps: ## install what build and tests need (idempotent; Debian/Ubuntu, as root)
	scripts/deps.sh test

deps-demo: ## install only what building and the demo need (C compiler, libuv/lz4/sqlite3 headers, libdqlite)
	scripts/deps.sh demo

deps-release: ## also what `make release` needs for arm64: multiarch cross compiler, arm64 libs and libdqlite, qemu-user-static
	scripts/deps.sh release

build: agent ## build ./packer-plugin-jitsi and the node agent (dist/jitsi-node_linux_{amd64,arm64})
	$(GO) build -tags $(GOTAGS) -ldflags '$(VERSION_LDFLAGS)' -o $(BINARY) .

agent: ## build the node agent for every image architecture (static, no cgo); the plugin embeds them
	@mkdir -p dist
	@for arch in $(AGENT_ARCHS); do \
		echo "$(GO) build → dist/$(AGENT)_linux_$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w $(VERSION_LDFLAGS)' \
			-o dist/$(AGENT)_linux_$$arch ./cmd/$(AGENT); \
		gzip -9nc dist/$(AGENT)_linux_$$arch > internal/agentbin/bin/$(AGENT)_linux_$$arch.gz; \
	done

release: ## VERSION=x.y.z: release/ with the zips and SHA256SUMS Packer installs (linux amd64 + arm64)
	$(GO) run ./internal/release/mkrelease -preflight -version '$(VERSION)' -out '$(RELEASE_DIR)' $(RELEASE_PLATFORMS)
	$(MAKE) --no-print-directory agent VERSION='$(VERSION)'
	$(GO) run ./internal/release/mkrelease -version '$(VERSION)' -out '$(RELEASE_DIR)' $(RELEASE_PLATFORMS)

generate: ## regenerate HCL2 specs and the docs from the Config field comments (must leave no diff)
	$(GO) generate ./...
	$(GO) run ./internal/docsgen/gen

test: deps build ## run all tests (unit, round-trip, schema, registry, Packer)
	$(GO) vet -tags $(GOTAGS) ./...
	shellcheck -x scripts/*.sh scripts/lib/*.sh scripts/node/* e2e/scripts/*.sh e2e/scripts/lib/*.sh
	shellcheck $(wildcard e2e/fixture/debian/*/DEBIAN/postinst e2e/fixture/debian/*/DEBIAN/prerm e2e/fixture/debian/*/DEBIAN/postrm)
	JITSI_JVM_TIER=1 JITSI_AGENT_EMBEDDED=1 $(GO) test -tags $(GOTAGS) -count=1 ./...

demo: deps-demo build ## issue an example JMS and three bridges into $(DEMO_DIR), show one bridge's plan
	scripts/demo.sh ./$(BINARY) "$(DEMO_DIR)"

e2e: deps build ## the VM tier: bake with Packer, boot a JMS and bridges, then a JMS per web server, under qemu (root; ≈ 20 min warm); E2E_MATRIX=ci adds two matrix rows
	scripts/deps.sh e2e
	E2E_VM=1 $(GO) test -tags $(GOTAGS) -count=1 -timeout 85m -v -run '^(TestVMCluster|TestVMJMS|TestVMMatrix)$$' ./e2e/

# E2E_MATRIX: all (a bridge on each of the six base image OSes and a JMS on
# ubuntu-24.04), ci (debian-12 + one OS by commit hash) or a list such as
# debian-12,ubuntu-18.04,ubuntu-24.04/jms.
E2E_MATRIX ?= all
e2e-matrix: deps build ## bake and boot a bridge on every base image OS (and a JMS on 24.04) against a Debian 12 JMS; e2e/out/<run>/matrix.json
	scripts/deps.sh e2e
	E2E_VM=1 E2E_MATRIX='$(E2E_MATRIX)' $(GO) test -tags $(GOTAGS) -count=1 -timeout 150m -v -run '^TestVMMatrix$$' ./e2e/

clean:
	rm -f $(BINARY)
	rm -rf dist internal/agentbin/bin/*.gz release
	rm -rf $(DEMO_DIR)
