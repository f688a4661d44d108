# AWS (issue 4): the CDK app in infra/ and the commands around it. See infra/README.md.
#   make synth       the CloudFormation template, offline (placeholders stand in for what is not built yet)
#   make bootstrap   once per account and region: the CDK's deployment roles and asset bucket
#   make deploy      build the web app and the Lambda bundle, deploy with your AWS credentials, print the site URL
#   make destroy     delete the stack (the DynamoDB table is kept)
#   make infra-test  tests on the synthesized template (part of `make test`)
# Pass CDK options with CDK_ARGS, e.g. make deploy CDK_ARGS="-c bedrockModels=amazon.nova-lite-v1:0".

# This fragment is read before the Makefile's own rules: keep whichever default goal was in force.
_infra_default_goal := $(.DEFAULT_GOAL)

.PHONY: synth bootstrap deploy destroy infra-test infra-lint

INFRA := infra
INFRA_PYTHON := $(INFRA)/.venv/bin/python
# The CLI pinned in infra/package-lock.json; never a global one.
CDK := $(CURDIR)/$(INFRA)/node_modules/.bin/cdk
STACK := Parley
LAMBDA_BUNDLE := build/lambda
PLACEHOLDERS := build/synth-placeholders
CDK_OUTPUTS := $(CURDIR)/build/cdk-outputs.json
# Node 20 is past its end of life for jsii (aws-cdk-lib still runs on it); say so once in infra/README.md, not on
# every synth.
CDK_ENV := CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=true JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
# Synth needs no account and no network: a placeholder account and region, and no credentials to look up.
CDK_OFFLINE := env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
	CDK_DEFAULT_ACCOUNT=123456789012 CDK_DEFAULT_REGION=us-east-1 $(CDK_ENV)
# What synth uses for the Lambda code and the web app when they have not been built.
SYNTH_CONTEXT = $(if $(wildcard $(LAMBDA_BUNDLE)/parley),,-c lambdaAsset=$(PLACEHOLDERS)/lambda) \
	$(if $(wildcard web/dist/index.html),,-c webDist=$(PLACEHOLDERS)/web)

$(INFRA_PYTHON):
	$(PYTHON) -m venv $(INFRA)/.venv

$(STAMPS)/infra-venv: $(INFRA)/requirements.txt | $(INFRA_PYTHON)
	@mkdir -p $(STAMPS)
	$(INFRA_PYTHON) -m pip install --quiet --disable-pip-version-check -r $(INFRA)/requirements.txt
	@touch $@

$(STAMPS)/infra-npm: $(INFRA)/package.json $(INFRA)/package-lock.json
	@mkdir -p $(STAMPS)
	cd $(INFRA) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# A build's shape: the site deploys web/dist/assets on its own (see infra/parley_stack/site.py).
PLACEHOLDER_FILES := $(PLACEHOLDERS)/lambda/README $(PLACEHOLDERS)/web/index.html $(PLACEHOLDERS)/web/assets/README

$(PLACEHOLDER_FILES):
	@mkdir -p $(@D)
	@echo "Placeholder for make synth; make deploy builds the real thing." > $@

synth: $(STAMPS)/infra-venv $(STAMPS)/infra-npm $(PLACEHOLDER_FILES)
	cd $(INFRA) && $(CDK_OFFLINE) $(CDK) synth $(STACK) --quiet $(SYNTH_CONTEXT) $(CDK_ARGS)
	@echo "Template: $(INFRA)/cdk.out/$(STACK).template.json"

bootstrap: $(STAMPS)/infra-venv $(STAMPS)/infra-npm $(PLACEHOLDER_FILES)
	cd $(INFRA) && $(CDK_ENV) $(CDK) bootstrap $(SYNTH_CONTEXT) $(CDK_ARGS)

deploy: $(STAMPS)/infra-venv $(STAMPS)/infra-npm
	@status=0; $(MAKE) --no-print-directory --question web-build >/dev/null 2>&1 || status=$$?; \
	if [ $$status -ne 2 ]; then $(MAKE) --no-print-directory web-build; \
	else echo "No web-build target here: deploying web/dist as it is."; fi
	$(INFRA_PYTHON) scripts/build_lambda_bundle.py --output $(LAMBDA_BUNDLE)
	cd $(INFRA) && $(CDK_ENV) $(CDK) deploy $(STACK) --require-approval never --outputs-file $(CDK_OUTPUTS) $(CDK_ARGS)
	@$(INFRA_PYTHON) $(INFRA)/deployed.py $(CDK_OUTPUTS)

destroy: $(STAMPS)/infra-venv $(STAMPS)/infra-npm $(PLACEHOLDER_FILES)
	cd $(INFRA) && $(CDK_ENV) $(CDK) destroy $(STACK) $(SYNTH_CONTEXT) $(CDK_ARGS)
	@echo "The DynamoDB table and the files bucket are kept (user data): see infra/README.md to delete them."

infra-test: $(STAMPS)/infra-venv $(STAMPS)/infra-npm
	$(INFRA_PYTHON) -m pytest $(INFRA)/tests

# The root `lint` covers src and tests; this covers the CDK app and the bundle script, with the same ruff.
infra-lint: $(STAMPS)/dev
	$(BIN)/ruff check $(INFRA) scripts/build_lambda_bundle.py
	$(BIN)/ruff format --check $(INFRA) scripts/build_lambda_bundle.py

TEST_STEPS += infra-lint infra-test

.DEFAULT_GOAL := $(_infra_default_goal)
