from parley.aws.functions.base import lambda_handler
from parley.aws.functions.websocket import SendPromptFunction

handler = lambda_handler(SendPromptFunction)
