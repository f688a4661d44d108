from parley.aws.functions.base import lambda_handler
from parley.aws.functions.sendprompt import SendPromptFunction

handler = lambda_handler(SendPromptFunction)
