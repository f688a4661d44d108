from parley.aws.functions.base import lambda_handler
from parley.aws.functions.sessions import SessionEndFunction

handler = lambda_handler(SessionEndFunction)
