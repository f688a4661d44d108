from parley.aws.functions.base import lambda_handler
from parley.aws.functions.websocket import DefaultFunction

handler = lambda_handler(DefaultFunction)
