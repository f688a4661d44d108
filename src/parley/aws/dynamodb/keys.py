"""The single-table key scheme. Every item kind's keys are built here and nowhere else.

pk                         sk                       what
USER#<user_id>             USER                     a user (gsi1: USERS / <username>)
USERNAME#<username>        USERNAME                 claims a username (case-insensitive), points at the user
USER#<user_id>             PREFS                    the user's preferences
USER#<user_id>             CONV#<conversation_id>   a conversation (gsi1: CONVS#<user_id> / <updated_at>#<id>)
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
JTI#<jti>                  JTI                      a revoked token, with its user id (ttl)
TICKET#<sha256>            TICKET                   a WebSocket ticket and the session that asked for it (ttl)
THROTTLE#<key>             THROTTLE                 failed logins in a window (ttl)
CONN#<connection_id>       CONN                     a socket and its session (gsi1: CONNS#<user_id> / <id>; ttl)
GEN#<user_id>#<msgid>      GEN                      a running answer and its stop flag (ttl)
SLOTS#<user_id>            SLOT#<n>                 one of the user's answer slots, leased to a msgid (ttl)
RATE#<key>                 RATE                     a request-rate bucket: when it is full again (ttl)
SETUP                      SETUP                    the hash of the first-run setup code (while no user exists)
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


def setup_code() -> tuple[str, str]:
    return "SETUP", "SETUP"


USERS_INDEX = "USERS"
