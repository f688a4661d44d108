"""A local emulation of the deployed system: API Gateway (HTTP and WebSocket), the @connections API and
SNS delivery, in front of the real Lambda functions, with DynamoDB, SNS and Secrets Manager from moto."""
