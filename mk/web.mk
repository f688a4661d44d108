# The web app (web/): npm install, API types generated from the server's OpenAPI spec, vite build,
# vitest, and the browser tests (e2e/) in Debian's chromium. Each step runs only when its inputs changed.

WEB := web
NPM ?= npm
NPM_FLAGS := --no-audit --no-fund --loglevel=error
CHROMIUM := /usr/bin/chromium

WEB_NODE_MODULES := $(WEB)/node_modules/.package-lock.json
WEB_API_TYPES := $(WEB)/src/api/schema.d.ts
WEB_BUILT := $(WEB)/dist/index.html
# What the OpenAPI spec is made from: the server and the core types its schemas use.
WEB_API_INPUTS := $(shell find src/parley -name '*.py' -not -path '*/testing/*' 2>/dev/null)
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) \
	$(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json

.PHONY: web-build web-unit browser-test

SERVE_STEPS += web-build
TEST_STEPS += web-unit browser-test

web-build: $(WEB_BUILT)

$(WEB_NODE_MODULES): $(WEB)/package-lock.json $(WEB)/package.json
	cd $(WEB) && $(NPM) ci $(NPM_FLAGS)
	@touch $@

# The spec is exported and turned into TypeScript every time the server changes, but schema.d.ts is
# only replaced when its text changes, so the app is rebuilt only when the API really changed.
$(STAMPS)/web-api: $(WEB_API_INPUTS) $(WEB_NODE_MODULES) | $(STAMPS)/app
	@mkdir -p $(STAMPS)
	$(BIN)/python -m parley.server.openapi_export $(STAMPS)/openapi.json
	cd $(WEB) && npx --no-install openapi-typescript ../$(STAMPS)/openapi.json -o ../$(STAMPS)/schema.d.ts
	@cmp -s $(STAMPS)/schema.d.ts $(WEB_API_TYPES) || cp $(STAMPS)/schema.d.ts $(WEB_API_TYPES)
	@touch $@

$(WEB_API_TYPES): $(STAMPS)/web-api ;

$(WEB_BUILT): $(WEB_SOURCES) $(WEB_API_TYPES) $(WEB_NODE_MODULES)
	cd $(WEB) && $(NPM) run --silent build

web-unit: $(WEB_API_TYPES) $(WEB_NODE_MODULES)
	cd $(WEB) && npx --no-install vitest run

$(CHROMIUM):
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

browser-test: $(WEB_BUILT) $(STAMPS)/dev | $(CHROMIUM)
	$(BIN)/python -m pytest e2e
