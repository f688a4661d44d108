from parley.aws.functions.base import lambda_handler
from parley.aws.functions.files import FileWorkerFunction

handler = lambda_handler(FileWorkerFunction)
