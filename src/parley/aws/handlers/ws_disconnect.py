from parley.aws.functions.base import lambda_handler
from parley.aws.functions.websocket import DisconnectFunction

handler = lambda_handler(DisconnectFunction)
