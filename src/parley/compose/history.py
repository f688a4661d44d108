"""History imports."""

from __future__ import annotations

from parley.core.history.importer import HistoryImporter
from parley.core.history.jobs import ImportJobRunner
from parley.core.store.base import Stores


def build_import_runner(stores: Stores) -> ImportJobRunner:
    """Both homes run import jobs the same way: the local server in a task, the serverless worker on an event."""
    importer = HistoryImporter(stores.conversations, stores.messages, stores.imports)
    return ImportJobRunner(stores.import_jobs, importer)
