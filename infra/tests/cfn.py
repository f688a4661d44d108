"""Reading a synthesized CloudFormation template: resources by type, Parley's functions and what each may do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]
HANDLER_PREFIX = "parley.aws.handlers."
# The functions behind the Lambda Web Adapter: their handler is a startup script, named for the handler module.
STARTUP_SCRIPTS = {"openai_api.sh": "openai_api"}


def resources(template: Json, resource_type: str) -> dict[str, Json]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == resource_type}


def only(template: Json, resource_type: str) -> tuple[str, Json]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def prompts_topic(template: Json) -> tuple[str, Json]:
    """The topic prompts are published to (the other topic is the alarms')."""
    found = {n: b for n, b in resources(template, "AWS::SNS::Topic").items() if "KmsMasterKeyId" in b["Properties"]}
    assert len(found) == 1, f"expected one encrypted topic, found {sorted(found)}"
    return next(iter(found.items()))


def site_bucket(template: Json) -> tuple[str, Json]:
    """The bucket of the web build (the history and files buckets, named from the account and region, aside)."""
    buckets = {
        name: body
        for name, body in resources(template, "AWS::S3::Bucket").items()
        if not flatten(body["Properties"].get("BucketName", "")).startswith(("parley-history-", "parley-files-"))
    }
    assert len(buckets) == 1, f"expected one site bucket, found {sorted(buckets)}"
    return next(iter(buckets.items()))


def distribution_config(template: Json) -> Json:
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    return distribution["Properties"]["DistributionConfig"]


def references(value: Any) -> set[str]:
    """The logical ids a value points at through Ref or Fn::GetAtt (pseudo parameters like AWS::Region aside)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                if not inner.startswith("AWS::"):
                    found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    return found


def flatten(value: Any) -> str:
    """An intrinsic-function value as a string, with each Ref or GetAtt as ${id}: for matching ARNs."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(flatten(inner) for inner in value)
    if isinstance(value, dict):
        if "Ref" in value:
            return "${" + value["Ref"] + "}"
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return "${" + (".".join(target) if isinstance(target, list) else target) + "}"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(flatten(part) for part in parts)
    return repr(value)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass
class Function:
    logical_id: str
    properties: Json
    role: str
    statements: list[Json] = field(default_factory=list)
    """The Allow statements of every policy attached to the function's role (managed AWS policies aside)."""

    @property
    def name(self) -> str:
        """The handler module: `http_api` for parley.aws.handlers.http_api.handler (`openai_api` for its script)."""
        handler = self.properties["Handler"]
        if handler in STARTUP_SCRIPTS:
            return STARTUP_SCRIPTS[handler]
        return handler.removeprefix(HANDLER_PREFIX).rsplit(".", 1)[0]

    def actions(self) -> set[str]:
        return {action for statement in self.statements for action in as_list(statement["Action"])}

    def resources_for(self, action: str) -> list[str]:
        return [
            flatten(resource)
            for statement in self.statements
            if action in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        ]


def table_grants(function: Function, table: str) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """What a function may do to the table's items and to its index: action -> the dynamodb:LeadingKeys patterns it
    is allowed for (the union over its statements). Stream reads aside."""
    arns = {"${" + table + ".Arn}": 0, "${" + table + ".Arn}/index/gsi1": 1}
    grants: tuple[dict[str, set[str]], dict[str, set[str]]] = ({}, {})
    for statement in function.statements:
        for resource in as_list(statement["Resource"]):
            if flatten(resource) not in arns:
                continue
            condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
            patterns = set(as_list(condition.get("dynamodb:LeadingKeys", ["*"])))
            for action in as_list(statement["Action"]):
                grants[arns[flatten(resource)]].setdefault(action, set()).update(patterns)
    return grants


def parley_functions(template: Json) -> dict[str, Function]:
    """Parley's own functions (not the CDK's custom-resource helpers), by handler module."""
    functions = {}
    for logical_id, body in resources(template, "AWS::Lambda::Function").items():
        properties = body["Properties"]
        handler = str(properties.get("Handler", ""))
        if not handler.startswith(HANDLER_PREFIX) and handler not in STARTUP_SCRIPTS:
            continue
        (role,) = references(properties["Role"])
        function = Function(logical_id, properties, role, statements=list(_allow_statements_of_role(template, role)))
        functions[function.name] = function
    return functions


def _allow_statements_of_role(template: Json, role: str) -> Iterator[Json]:
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role in references(policy["Properties"].get("Roles", [])):
            yield from _allows(policy["Properties"]["PolicyDocument"])
    for inline in template["Resources"][role]["Properties"].get("Policies", []):
        yield from _allows(inline["PolicyDocument"])


def _allows(document: Json) -> Iterator[Json]:
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            yield statement


def all_policy_statements(template: Json) -> Iterator[tuple[str, Json]]:
    """Every statement of every identity and resource policy in the template, with the resource that holds it."""
    for logical_id, body in template["Resources"].items():
        properties = body.get("Properties", {})
        documents = [properties.get("PolicyDocument")]
        documents += [inline.get("PolicyDocument") for inline in properties.get("Policies", [])]
        documents.append(properties.get("AssumeRolePolicyDocument"))
        for document in documents:
            if document:
                for statement in document["Statement"]:
                    yield logical_id, statement


def apis(template: Json, protocol: str) -> dict[str, Json]:
    return {
        name: body
        for name, body in resources(template, "AWS::ApiGatewayV2::Api").items()
        if body["Properties"]["ProtocolType"] == protocol
    }


def http_api(template: Json) -> dict[str, Json]:
    return apis(template, "HTTP")


def websocket_api(template: Json) -> dict[str, Json]:
    return apis(template, "WEBSOCKET")


def routes(template: Json, api: str) -> dict[str, Json]:
    """The routes of one API by route key, e.g. "POST /api/login" or "$connect"."""
    return {
        body["Properties"]["RouteKey"]: body["Properties"]
        for body in resources(template, "AWS::ApiGatewayV2::Route").values()
        if references(body["Properties"]["ApiId"]) == {api}
    }


def integration_function(template: Json, route: Json) -> str:
    """The logical id of the Lambda function a route's integration invokes."""
    (integration,) = references(route["Target"])
    uri = template["Resources"][integration]["Properties"]["IntegrationUri"]
    functions = references(uri) & set(resources(template, "AWS::Lambda::Function"))
    (function,) = functions
    return function


def site_deployments(template: Json) -> tuple[str, Json, Json]:
    """The hashed assets' bucket deployment (its logical id and body) and the one of the page and the rest."""
    found = resources(template, "Custom::CDKBucketDeployment")
    assert len(found) == 2, sorted(found)
    ((assets_id, assets),) = [
        (logical_id, body)
        for logical_id, body in found.items()
        if body["Properties"].get("DestinationBucketKeyPrefix") == "assets/"
    ]
    (pages,) = [body for logical_id, body in found.items() if logical_id != assets_id]
    return assets_id, assets, pages


def deployed_config(template: Json, assembly: Path) -> Json:
    """The config.json the deployment writes: its source in the cloud assembly, with the marker the deployment
    replaces once the stack's values exist (a quoted JSON string) written as a ${id} reference."""
    _, _, pages = site_deployments(template)
    properties = pages["Properties"]
    config_zip = properties["SourceObjectKeys"][1].removesuffix(".zip")
    text = (assembly / f"asset.{config_zip}" / "config.json").read_text()
    ((marker, value),) = properties["SourceMarkers"][1].items()
    config: Json = json.loads(text.replace(marker, flatten(value)))
    return config
