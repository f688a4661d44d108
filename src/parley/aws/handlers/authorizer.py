from parley.aws.functions.authorizer import AuthorizerFunction
from parley.aws.functions.base import lambda_handler

handler = lambda_handler(AuthorizerFunction)
