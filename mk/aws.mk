# The serverless path on this machine: API Gateway, SNS and @connections emulated in front of the real
# Lambda functions, with DynamoDB, SNS and Secrets Manager from moto. The web app is served as on CloudFront.
.PHONY: aws-local

aws-local: $(STAMPS)/dev $(SERVE_STEPS)
	$(BIN)/python -m parley.aws.local --port $${PARLEY_PORT:-8000}
