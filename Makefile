# The two set-up commands. Each installs what is missing, then does its job.
.PHONY: run test bench build deps lint clean

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

dist/.built: node_modules/.installed $(shell find src -name '*.ts' 2>/dev/null) tsconfig.json tsconfig.build.json
	npm run build
	touch $@

# The native addon (the WebSocket relay, direct writes): `npm ci` builds it where a compiler is (so after it, this rule has nothing to do);
# where it could not, or the source changed since, the compiler is installed and it is built here.
NATIVE := build/Release/sifu_relay.node
$(NATIVE): native/relay.c native/send.c native/send.h binding.gyp | node_modules/.installed
	scripts/install-deps.sh build
	npm run build:native

build: dist/.built $(NATIVE)

run: build
	scripts/install-deps.sh run
	node dist/cli/main.js serve

test: node_modules/.installed $(NATIVE)
	scripts/install-deps.sh test
	scripts/start-dockerd.sh swarm
	npm run typecheck
	npm run lint
	npm test

bench: node_modules/.installed $(NATIVE)
	scripts/install-deps.sh bench
	npm run bench

lint: node_modules/.installed
	npm run lint

clean:
	rm -rf dist node_modules build
