from parley.aws.functions.base import lambda_handler
from parley.aws.functions.websocket import StopFunction

handler = lambda_handler(StopFunction)
