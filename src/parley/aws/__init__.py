"""The serverless edge: DynamoDB stores, the Bedrock provider, and the Lambda functions over the core."""
