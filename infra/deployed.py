"""Say where the deployment is, from the file `cdk deploy --outputs-file` wrote (run by `make deploy`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def summary(outputs: dict[str, dict[str, str]]) -> str:
    (stack,) = outputs.values()  # one stack
    return "\n".join(
        [
            "",
            f"Parley is deployed: {stack['SiteUrl']}",
            f"  HTTP API   {stack['HttpApiUrl']}",
            f"  WebSocket  {stack['WebSocketUrl']}",
            f"  Table      {stack['TableName']}",
            "Create the first account, an admin, in the browser with a one-time link:",
            f"  AWS_REGION={stack['Region']} PARLEY_DYNAMODB_TABLE={stack['TableName']} "
            f".venv/bin/parley setup-code --store dynamodb --url {stack['SiteUrl']}",
            "or on the command line:",
            f"  AWS_REGION={stack['Region']} PARLEY_DYNAMODB_TABLE={stack['TableName']} "
            ".venv/bin/parley users add NAME --admin --store dynamodb",
        ]
    )


if __name__ == "__main__":
    print(summary(json.loads(Path(sys.argv[1]).read_text())))
