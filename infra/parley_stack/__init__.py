"""Parley on AWS, as a CDK app: `ParleyStack` built from `DeploySettings`."""

from parley_stack.settings import DeploySettings, SettingsError
from parley_stack.stack import STACK_NAME, ParleyStack

__all__ = ["STACK_NAME", "DeploySettings", "ParleyStack", "SettingsError"]
