"""The single-table key scheme. Every item kind's keys are built here and nowhere else.

pk                         sk                       what
USER#<user_id>             USER                     a user (gsi1: USERS / <username>)
USERNAME#<username>        USERNAME                 claims a username (case-insensitive), points at the user
USER#<user_id>             PREFS                    the user's preferences
USER#<user_id>             CONV#<conversation_id>   a conversation (gsi1: CONVS#<user_id> / <updated_at>#<id>)
CONV#<conversation_id>     MSG#<seq>[#<part>]       a message, its content split in parts past 100 KB
JTI#<jti>                  JTI                      a revoked token, with its user id (ttl)
TICKET#<sha256>            TICKET                   a WebSocket ticket and the session that asked for it (ttl)
THROTTLE#<key>             THROTTLE                 failed logins in a window (ttl)
CONN#<connection_id>       CONN                     a socket and its session (gsi1: CONNS#<user_id> / <id>; ttl)
GEN#<user_id>#<msgid>      GEN                      a running answer and its stop flag (ttl)
SLOTS#<user_id>            SLOT#<n>                 one of the user's answer slots, leased to a msgid (ttl)
RATE#<key>                 RATE                     a request-rate bucket: when it is full again (ttl)
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


def message(seq: int, part: int = 0) -> str:
    return f"MSG#{seq:010d}" if part == 0 else f"MSG#{seq:010d}#{part:04d}"


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


USERS_INDEX = "USERS"
