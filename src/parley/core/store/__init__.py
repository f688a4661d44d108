"""Persistence behind small interfaces; SQLite is the default implementation."""

from parley.core.store.base import (
    Conversation,
    ConversationPage,
    ConversationStore,
    Message,
    MessageLog,
    MessageStatus,
    Stores,
    ThrottleStore,
    TicketStore,
    TokenRevocationStore,
    User,
    UserStore,
)

__all__ = [
    "Conversation",
    "ConversationPage",
    "ConversationStore",
    "Message",
    "MessageLog",
    "MessageStatus",
    "Stores",
    "ThrottleStore",
    "TicketStore",
    "TokenRevocationStore",
    "User",
    "UserStore",
]
