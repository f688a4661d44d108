"""What each Lambda function may do to the table: the DynamoDB actions its code calls and, for each, the kinds of
item it calls them on, as patterns of their partition key (IAM's ``dynamodb:LeadingKeys``).

``infra/`` turns this into each function's IAM policy, and the local emulation (``parley.aws.local.iam``) refuses
every other call the way IAM would, so a handler that starts touching another kind of item fails the tests instead
of a deployment. Read it with ``parley.aws.dynamodb.keys``, where every key is built.

A query on the index is allowed by the index's partition key (``gsi1pk``), not the table's. Only calls that name a
key are granted: with ``ForAllValues``, a call without one (Scan) would pass any pattern.

This module imports nothing: the CDK app loads it by path (infra/.venv does not install ``parley``).
"""

from __future__ import annotations

INDEX = "gsi1"

# The table's partition keys, one pattern per kind of item.
USERS_AND_THEIR_ITEMS = "USER#*"  # a user, its preferences and its conversations (not their messages)
USERNAMES = "USERNAME#*"
MESSAGES = "CONV#*"
REVOKED_TOKENS = "JTI#*"
TICKETS = "TICKET#*"
LOGIN_FAILURES = "THROTTLE#*"
CONNECTIONS = "CONN#*"
ANSWERS = "GEN#*"  # a running answer, its stop flag and its followers
ANSWER_SLOTS = "SLOTS#*"
REQUEST_RATES = "RATE#*"
API_KEYS = "APIKEY#*"  # an API key found by its hash (its owner's record and name claim are USER# items)
USAGE = "USAGE#*"  # a user's usage records, daily totals, monthly counters, budget and reservations' holds
SHARES = "SHARE#*"  # a share's snapshot, keyed by its token's hash (its owner's record is a user item)
SETUP_CODE = "SETUP"  # the first-run setup code's hash (one item)
PASSAGES = "PASSAGES#*"  # an attached document's passages and its keyword index (a partition per document)

# The index's partition keys.
USER_LIST = "USERS"
CONVERSATION_LISTS = "CONVS#*"
CONNECTION_LISTS = "CONNS#*"
WORD_LISTS = "WORD#*"  # a user's search postings of one word
IMPORT_JOB_LISTS = "IMPORTS#*"  # a user's import jobs, newest first
SHARE_LISTS = "SHARES#*"  # a user's shares

# Function (its handler module in parley.aws.handlers) -> DynamoDB action on the table -> partition keys.
TABLE_ACCESS: dict[str, dict[str, tuple[str, ...]]] = {
    "http_api": {
        # Login (usernames, throttling), sessions, conversations and their messages, preferences, /api/chat
        # (which reserves and settles the answer's tokens), /api/usage and the admins' budgets; shares (made,
        # listed and revoked by their owner; read by anyone holding a link).
        # First-run setup reads and spends the setup code; it and sign-up create users (a username's claim).
        # /api/keys: a key is three items written in one transaction (the lookup by its hash, the owner's record
        # and the claim of its name), listed by a query of the owner's partition, revoked in one transaction.
        "GetItem": (USERNAMES, USERS_AND_THEIR_ITEMS, REVOKED_TOKENS, LOGIN_FAILURES, ANSWERS, USAGE, SETUP_CODE),
        "Query": (MESSAGES, ANSWER_SLOTS, USERS_AND_THEIR_ITEMS, USAGE, SHARES, PASSAGES),
        "PutItem": (
            USERS_AND_THEIR_ITEMS,
            USERNAMES,
            MESSAGES,
            REVOKED_TOKENS,
            TICKETS,
            LOGIN_FAILURES,
            ANSWERS,
            ANSWER_SLOTS,
            API_KEYS,
            USAGE,
            SHARES,
        ),
        "UpdateItem": (USERS_AND_THEIR_ITEMS, MESSAGES, LOGIN_FAILURES, REQUEST_RATES, ANSWERS, API_KEYS, USAGE),
        "DeleteItem": (USERS_AND_THEIR_ITEMS, LOGIN_FAILURES, ANSWER_SLOTS, USAGE, SHARES, SETUP_CODE, PASSAGES),
        # A deleted file's passages and keyword index are removed with it, in batches.
        "BatchWriteItem": (MESSAGES, SHARES, PASSAGES),
        # A new message's transaction checks that its parent exists (and a branch switch that its leaf does);
        # a new share's, that its conversation does.
        "ConditionCheckItem": (MESSAGES, USERS_AND_THEIR_ITEMS),
        # Search: the titles of the conversations found, and the postings of a common word it did not read;
        # /api/chat's retrieval over attached documents (their keyword index shards and passages).
        "BatchGetItem": (USERS_AND_THEIR_ITEMS, MESSAGES, PASSAGES),
    },
    "authorizer": {
        "GetItem": (REVOKED_TOKENS, USERS_AND_THEIR_ITEMS),
    },
    "ws_connect": {
        # Redeems the ticket (deleted as it is read), checks its session, records the connection.
        "GetItem": (REVOKED_TOKENS, USERS_AND_THEIR_ITEMS),
        "PutItem": (CONNECTIONS,),
        "DeleteItem": (TICKETS, CONNECTIONS),
    },
    "ws_disconnect": {
        "DeleteItem": (CONNECTIONS,),
    },
    # Every message checks the session that opened its connection (a revoked token, the user's token version)
    # and removes the connection of an ended session. $default also serves resume: it adds the connection to a
    # running answer's followers, or reads the saved answer from its conversation (settling one whose worker
    # died, which rewrites it as the worker would).
    "ws_default": {
        "GetItem": (CONNECTIONS, REVOKED_TOKENS, USERS_AND_THEIR_ITEMS),
        "Query": (MESSAGES,),
        "PutItem": (MESSAGES,),
        "UpdateItem": (REQUEST_RATES, ANSWERS, MESSAGES),
        "DeleteItem": (CONNECTIONS,),
        "BatchWriteItem": (MESSAGES,),
    },
    "ws_stop": {
        "GetItem": (CONNECTIONS, REVOKED_TOKENS, USERS_AND_THEIR_ITEMS),
        "UpdateItem": (REQUEST_RATES, ANSWERS),
        "DeleteItem": (CONNECTIONS,),
    },
    "ws_sendprompt": {
        # Saves the user's message and an empty answer (a transaction that checks the parent exists), takes a slot.
        # First reserves the answer's tokens against the user's budget (reads it and the user's holds, giving back
        # expired ones; adds to the month's counter and puts the reservation's hold; gives them back, deleting the
        # hold, when the prompt is refused after all).
        # Reads the attached files' records (user items) and, for documents, their keyword index shards, vectors
        # and passages (retrieval), before anything is saved.
        "GetItem": (CONNECTIONS, REVOKED_TOKENS, USERS_AND_THEIR_ITEMS, ANSWERS, USAGE),
        "BatchGetItem": (PASSAGES,),
        "ConditionCheckItem": (MESSAGES,),
        "Query": (MESSAGES, ANSWER_SLOTS, PASSAGES, USAGE),
        "PutItem": (USERS_AND_THEIR_ITEMS, MESSAGES, ANSWERS, ANSWER_SLOTS, USAGE),
        "UpdateItem": (USERS_AND_THEIR_ITEMS, MESSAGES, REQUEST_RATES, ANSWERS, USAGE),
        "DeleteItem": (ANSWER_SLOTS, CONNECTIONS, USAGE),
        "BatchWriteItem": (MESSAGES,),
    },
    "worker": {
        # Fills in the answer, watches its stop flag and followers, then marks it finished and frees its slot.
        # Indexes the answer's words for search once it is final (postings are items of the conversation's
        # partition); an answer saved final a second time has its earlier postings read, to remove the words no
        # longer in it.
        # Settles the answer's tokens: reads the reservation's hold, then deletes it with its usage record, its day's
        # totals and the month's counter, one transaction.
        "GetItem": (ANSWERS, USAGE),
        "Query": (MESSAGES,),
        "PutItem": (MESSAGES, USAGE),
        "UpdateItem": (MESSAGES, ANSWERS, USAGE),
        "DeleteItem": (ANSWER_SLOTS, USAGE),
        "BatchWriteItem": (MESSAGES,),
    },
    "session_end": {
        "DeleteItem": (CONNECTIONS,),
    },
    # /v1 behind a streaming function URL: the key (by its hash) and its user on every request, the request rate,
    # the key's last use (once a minute, on both of its items), and, for a key that saves its requests, a new
    # conversation and its messages.
    "openai_api": {
        # A key's lookup and its last use; each answer's tokens reserved against the budget (with a hold, expired
        # holds of the user given back first) and then recorded (the hold deleted).
        # Each answer takes one of its user's answer slots (the app's: its answer item, a slot lease) and frees it.
        "GetItem": (API_KEYS, USERS_AND_THEIR_ITEMS, USAGE, ANSWERS),
        "Query": (MESSAGES, ANSWER_SLOTS, USAGE),
        "PutItem": (USERS_AND_THEIR_ITEMS, MESSAGES, USAGE, ANSWERS, ANSWER_SLOTS),
        "UpdateItem": (API_KEYS, USERS_AND_THEIR_ITEMS, MESSAGES, REQUEST_RATES, USAGE, ANSWERS),
        "DeleteItem": (ANSWER_SLOTS, USAGE),
        "ConditionCheckItem": (MESSAGES,),
        "BatchWriteItem": (MESSAGES,),
    },
    # Runs an uploaded file's import job: reads and saves the job (an item of its user), skips conversations
    # imported before (records under the user), and saves each conversation whole (the conversation, its messages
    # and their search postings, its current leaf) or deletes what it made of it.
    "import_worker": {
        "GetItem": (USERS_AND_THEIR_ITEMS,),
        "Query": (MESSAGES,),
        "PutItem": (USERS_AND_THEIR_ITEMS, MESSAGES),
        "UpdateItem": (USERS_AND_THEIR_ITEMS,),
        "DeleteItem": (USERS_AND_THEIR_ITEMS,),
        "BatchWriteItem": (MESSAGES,),
        "ConditionCheckItem": (MESSAGES,),
    },
    # Processes an uploaded file (from the files bucket's event): reads its record, saves what processing learned
    # (or its error; a put on the condition that the record still exists). File records are items of their user.
    # Indexes a document: its passages, keyword index shards and vectors in batches, the META item last (an
    # earlier index of the same file is queried and removed first).
    "file_worker": {
        "GetItem": (USERS_AND_THEIR_ITEMS,),
        "PutItem": (USERS_AND_THEIR_ITEMS, PASSAGES),
        "Query": (PASSAGES,),
        "DeleteItem": (PASSAGES,),
        "BatchWriteItem": (PASSAGES,),
    },
}

# Function -> partition keys of the index it may query (the only action granted on the index).
INDEX_QUERIES: dict[str, tuple[str, ...]] = {
    "http_api": (USER_LIST, CONVERSATION_LISTS, WORD_LISTS, IMPORT_JOB_LISTS, SHARE_LISTS),
    "ws_connect": (CONNECTION_LISTS,),
    "session_end": (CONNECTION_LISTS,),
}
