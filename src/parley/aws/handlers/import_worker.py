from parley.aws.functions.base import lambda_handler
from parley.aws.functions.imports import ImportWorkerFunction

handler = lambda_handler(ImportWorkerFunction)
