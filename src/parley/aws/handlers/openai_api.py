"""The OpenAI-compatible function's process: the Lambda Web Adapter runs ``openai_api.sh`` (the function's handler,
at the code's root), which runs this module; see ``parley.aws.functions.openai_api``."""

from parley.aws.functions.openai_api import main

if __name__ == "__main__":
    main()
