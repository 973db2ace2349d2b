# berth: build, test, demo, bench. Every target works on a fresh Debian 12 machine as root.
SHELL := /bin/bash
.DEFAULT_GOAL := build

APT_PACKAGES := build-essential musl-tools runc crun podman skopeo umoci buildah docker-registry \
  qemu-system-x86 linux-image-amd64 busybox-static containernetworking-plugins iptables \
  iproute2 uidmap curl jq xz-utils chromium apache2-utils
NODE := node_modules/node/bin/node
CC_STATIC := $(shell command -v musl-gcc >/dev/null 2>&1 && echo musl-gcc || echo gcc)
CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-result -D_GNU_SOURCE -fno-strict-aliasing
NATIVE_SRC := $(wildcard native/*.c)
NATIVE_HDR := $(wildcard native/*.h)
TS_SRC := $(shell find src -name '*.ts' -o -name '*.json' 2>/dev/null)

.PHONY: deps apt npm build native ts typecheck test test-unit demo bench clean

# Debian packages: installed only when one is missing, so repeated runs cost nothing.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

npm: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: apt npm

build: npm native ts

native: dist/berth-helper
dist/berth-helper: $(NATIVE_SRC) $(NATIVE_HDR)
	@mkdir -p dist
	$(CC_STATIC) $(CFLAGS) -static -o $@.tmp $(NATIVE_SRC) && mv $@.tmp $@

ts: dist/.stamp
dist/.stamp: $(TS_SRC) scripts/build.mjs package.json
	$(NODE) scripts/build.mjs
	@touch $@

typecheck: npm
	$(NODE) node_modules/typescript/bin/tsc --noEmit -p .

test-unit: build
	$(NODE) --test --test-reporter=spec 'test/unit/**/*.test.ts'

test: deps build typecheck
	$(NODE) --test --test-reporter=spec --test-concurrency=1 --test-timeout=600000 'test/**/*.test.ts'

demo: deps build
	./scripts/demo.sh

bench: deps build
	$(NODE) bench/run.ts

clean:
	rm -rf dist build .cache
