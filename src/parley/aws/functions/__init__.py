"""Lambda functions over the core. Each is a class built once per cold start; ``parley.aws.handlers``
holds the one-line entry points that API Gateway, SNS and the table's stream call."""
