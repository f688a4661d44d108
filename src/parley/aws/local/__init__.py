"""A local emulation of the deployed system: API Gateway (HTTP and WebSocket), the @connections API, SNS
delivery and the table stream's event source, in front of the real Lambda functions, with DynamoDB, SNS and
Secrets Manager from moto."""
