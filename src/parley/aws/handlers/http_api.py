from parley.aws.functions.base import lambda_handler
from parley.aws.functions.http_api import HttpApiFunction

handler = lambda_handler(HttpApiFunction)
