"""Test doubles that ship with Parley: a scripted in-process provider and a fake OpenAI-compatible server."""
