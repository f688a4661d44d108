from parley.aws.functions.base import lambda_handler
from parley.aws.functions.worker import WorkerFunction

handler = lambda_handler(WorkerFunction)
