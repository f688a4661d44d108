from parley.aws.functions.base import lambda_handler
from parley.aws.functions.connect import ConnectFunction

handler = lambda_handler(ConnectFunction)
