"""The single-table key scheme. Every item kind's keys are built here and nowhere else.

pk                         sk                       what
USER#<user_id>             USER                     a user (gsi1: USERS / <username>)
USERNAME#<username>        USERNAME                 claims a username (case-insensitive), points at the user
USER#<user_id>             PREFS                    the user's preferences
USER#<user_id>             CONV#<conversation_id>   a conversation (gsi1: CONVS#<user_id> / <updated_at>#<id>)
USER#<user_id>             IMPORTED#<source>#<sha256 of source_id>
                                                    a conversation imported from another app, and which it became
USER#<user_id>             IMPORTJOB#<job_id>       an import job: status, progress, what was skipped
                                                    (gsi1: IMPORTS#<user_id> / <created_at>#<id>; ttl)
CONV#<conversation_id>     MSG#<message_id>         a message: owner, parent, ``seq`` (creation order), parts' JSON
CONV#<conversation_id>     MSG#<message_id>#<rev>#<n>
                                                    chunk n of the parts' JSON of revision <rev>, past 100 KB (a save
                                                    writes the new revision's chunks, then the message, then drops
                                                    the old ones: a reader never meets a torn message)
CONV#<conversation_id>     MSG#<seq>[#<part>]       a message written before messages had parents (10-digit seq);
                                                    read in place as id ``<conversation_id>.<seq>``, its parent the
                                                    message before it, its text split in parts past 100 KB
CONV#<conversation_id>     IDX#M#<message_id>#<word>
                                                    a word of a final message (gsi1: WORD#<user_id>#<word> /
                                                    <recency>#<conversation_id>#<message_id>): how often, a snippet
CONV#<conversation_id>     IDX#T#<word>             a word of the conversation's title (gsi1 as above, no message id)
USER#<user_id>             FILE#<file_id>           an attached file's record: name, size, status, what processing
                                                    learned (listed, and totalled for the user's limits, by a query)
USER#<user_id>             SHARE#<share_id>         the owner's record of a share, with its token's hash
                                                    (gsi1: SHARES#<user_id> / <created_at>#<share_id>)
SHARE#<sha256 of token>    SHARE                    a share: title, owner, conversation, first 100 KB of the snapshot
SHARE#<sha256 of token>    PART#<n>                 chunk n of the snapshot's messages' JSON, past 100 KB
JTI#<jti>                  JTI                      a revoked token, with its user id (ttl)
TICKET#<sha256>            TICKET                   a WebSocket ticket and the session that asked for it (ttl)
THROTTLE#<key>             THROTTLE                 failed logins in a window (ttl)
CONN#<connection_id>       CONN                     a socket and its session (gsi1: CONNS#<user_id> / <id>; ttl)
GEN#<user_id>#<msgid>      GEN                      a running answer and its stop flag (ttl)
SLOTS#<user_id>            SLOT#<n>                 one of the user's answer slots, leased to a msgid (ttl)
RATE#<key>                 RATE                     a request-rate bucket: when it is full again (ttl)
APIKEY#<sha256>            APIKEY                   an API key found by its hash: owner, key id, expiry, revoked
USER#<user_id>             APIKEY#<key_id>          the owner's record of a key (listed by a query): name, prefix,
                                                    last used, revoked
USER#<user_id>             APIKEYNAME#<name>        claims a key name (case-insensitive) among the user's live keys
USAGE#<user_id>            BUDGET                   the user's monthly token budget
USAGE#<user_id>            MONTH#<yyyy-mm>          the user's counter of a UTC month: tokens used plus reserved
                                                    by running answers (ADD; a reservation is conditional on it
                                                    being under the budget)
USAGE#<user_id>            DAY#<yyyy-mm-dd>#<model> the user's totals of a day for a model (ADD on every answer):
                                                    a range of days is one Query, never a scan of records
USAGE#<user_id>            REC#<created_at>#<id>    one answer's usage: model, tokens, estimated, source, key id
USAGE#<user_id>            HOLD#<hold_id>           a reservation not yet settled: month, tokens, expiry; marked
                                                    reclaimed when its expired tokens were given back (ttl)
SETUP                      SETUP                    the hash of the first-run setup code (while no user exists)
PASSAGES#<user_id>#<file_id>  P#<index>           a passage of an attached document: text, offsets, page (6-digit index)
PASSAGES#<user_id>#<file_id>  INDEX#<n>           shard n of the document's keyword index: the postings of the words
                                                    that hash to n (built at upload; compressed)
PASSAGES#<user_id>#<file_id>  LENGTHS             the words in each passage (for BM25; compressed)
PASSAGES#<user_id>#<file_id>  VECTORS#<n>         chunk n of its passages' embeddings (float32 rows), when configured
PASSAGES#<user_id>#<file_id>  META                how many passages, index shards and vector chunks; the dimensions
"""

from __future__ import annotations


def user(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "USER"


def username(name: str) -> tuple[str, str]:
    return f"USERNAME#{name.casefold()}", "USERNAME"


def preferences(user_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", "PREFS"


def conversation(user_id: str, conversation_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"CONV#{conversation_id}"


def conversations_index(user_id: str) -> str:
    return f"CONVS#{user_id}"


def recency(updated_at: float, conversation_id: str) -> str:
    # Fixed width so that string order is time order.
    return f"{updated_at:020.6f}#{conversation_id}"


USER_IMPORTS_PREFIX = "IMPORT"  # both kinds of item below: removed with their user


def imported_conversation(user_id: str, source: str, source_hash: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"IMPORTED#{source}#{source_hash}"


def import_job(user_id: str, job_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"IMPORTJOB#{job_id}"


def import_jobs_index(user_id: str) -> str:
    return f"IMPORTS#{user_id}"


FILE_PREFIX = "FILE#"


def file(user_id: str, file_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"{FILE_PREFIX}{file_id}"


def messages(conversation_id: str) -> str:
    return f"CONV#{conversation_id}"


MESSAGE_PREFIX = "MSG#"


def message(message_id: str) -> str:
    return f"{MESSAGE_PREFIX}{message_id}"


def legacy_message(seq: int) -> str:
    """Where a message written before messages had parents lives (its id is ``<conversation_id>.<seq>``)."""
    return f"{MESSAGE_PREFIX}{seq:010d}"


def chunk(message_sk: str, rev: str, number: int) -> str:
    """Chunk ``number`` (1, 2, ...) of a message's revision ``rev``: the message item holds chunk 0."""
    return f"{message_sk}#{rev}#{number:04d}"


def legacy_part(seq: int, part: int) -> str:
    """Part ``part`` (1, 2, ...) of a message written before messages had parents."""
    return f"{legacy_message(seq)}#{part:04d}"


SEARCH_PREFIX = "IDX#"


def message_words(message_id: str) -> str:
    """The prefix of a message's search postings (one item per word, in its conversation's partition)."""
    return f"{SEARCH_PREFIX}M#{message_id}#"


def title_words() -> str:
    """The prefix of the search postings of a conversation's title."""
    return f"{SEARCH_PREFIX}T#"


def word_index(user_id: str, word: str) -> str:
    """The gsi1 partition of one user's postings of one word: a search reads only its owner's."""
    return f"WORD#{user_id}#{word}"


def share_of_owner(user_id: str, share_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"SHARE#{share_id}"


def shares_index(user_id: str) -> str:
    return f"SHARES#{user_id}"


def share(token_hash: str) -> tuple[str, str]:
    """A share, found by its token's hash (the token itself is never stored)."""
    return f"SHARE#{token_hash}", "SHARE"


def share_chunk(number: int) -> str:
    """Chunk ``number`` (1, 2, ...) of a share's messages: the share's item holds chunk 0."""
    return f"PART#{number:04d}"


def revoked(jti: str) -> tuple[str, str]:
    return f"JTI#{jti}", "JTI"


def revoked_jti(pk: str, sk: str) -> str | None:
    """The jti whose revocation these keys are; None for any other item."""
    return pk.removeprefix("JTI#") if pk.startswith("JTI#") and sk == "JTI" else None


def user_id_of(pk: str, sk: str) -> str | None:
    """The id of the user these keys are; None for any other item."""
    return pk.removeprefix("USER#") if pk.startswith("USER#") and sk == "USER" else None


def ticket(ticket_hash: str) -> tuple[str, str]:
    return f"TICKET#{ticket_hash}", "TICKET"


def throttle(key: str) -> tuple[str, str]:
    return f"THROTTLE#{key}", "THROTTLE"


def connection(connection_id: str) -> tuple[str, str]:
    return f"CONN#{connection_id}", "CONN"


def connections_index(user_id: str) -> str:
    return f"CONNS#{user_id}"


def generation(user_id: str, msgid: str) -> tuple[str, str]:
    return f"GEN#{user_id}#{msgid}", "GEN"


def generation_slots(user_id: str) -> str:
    return f"SLOTS#{user_id}"


def generation_slot(user_id: str, slot: int) -> tuple[str, str]:
    return generation_slots(user_id), f"SLOT#{slot}"


def request_rate(key: str) -> tuple[str, str]:
    return f"RATE#{key}", "RATE"


def api_key(key_hash: str) -> tuple[str, str]:
    return f"APIKEY#{key_hash}", "APIKEY"


API_KEY_RECORD_PREFIX = "APIKEY#"
API_KEY_ITEMS_PREFIX = "APIKEY"  # a user's key records and name claims both begin with it


def api_key_record(user_id: str, key_id: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"{API_KEY_RECORD_PREFIX}{key_id}"


def api_key_name(user_id: str, name: str) -> tuple[str, str]:
    return f"USER#{user_id}", f"APIKEYNAME#{name.casefold()}"


def usage(user_id: str) -> str:
    return f"USAGE#{user_id}"


def budget(user_id: str) -> tuple[str, str]:
    return usage(user_id), "BUDGET"


def usage_month(user_id: str, month: str) -> tuple[str, str]:
    return usage(user_id), f"MONTH#{month}"


DAY_PREFIX = "DAY#"


def usage_day(user_id: str, day: str, model: str) -> tuple[str, str]:
    return usage(user_id), f"{DAY_PREFIX}{day}#{model}"


def usage_record(user_id: str, created_at: float, record_id: str) -> tuple[str, str]:
    return usage(user_id), f"REC#{created_at:020.6f}#{record_id}"


HOLD_PREFIX = "HOLD#"


def usage_hold(user_id: str, hold_id: str) -> tuple[str, str]:
    return usage(user_id), f"{HOLD_PREFIX}{hold_id}"


def setup_code() -> tuple[str, str]:
    return "SETUP", "SETUP"


USERS_INDEX = "USERS"


def passages(user_id: str, file_id: str) -> str:
    """The partition of one document's passages and indexes."""
    return f"PASSAGES#{user_id}#{file_id}"


def passage(index: int) -> str:
    return f"P#{index:06d}"


PASSAGE_PREFIX = "P#"
PASSAGES_META = "META"
PASSAGE_LENGTHS = "LENGTHS"
PASSAGE_INDEX_PREFIX = "INDEX#"
PASSAGE_VECTORS_PREFIX = "VECTORS#"


def passage_index_shard(number: int) -> str:
    return f"{PASSAGE_INDEX_PREFIX}{number:04d}"


def passage_vectors_chunk(number: int) -> str:
    return f"{PASSAGE_VECTORS_PREFIX}{number:04d}"
