"""One behaviour, two backends: the same store tests run against SQLite and against DynamoDB (moto)."""

from __future__ import annotations

import asyncio
import time

import pytest

from parley.core.store.base import (
    MAX_FOLLOWERS,
    DailyUsage,
    LiveSignals,
    Message,
    MessageStatus,
    Registration,
    SessionRef,
    Share,
    SharedMessage,
    UsageRecord,
)
from parley.core.store.parts import OpaquePart, TextPart, text_parts
from parley.errors import Conflict, InvalidInput

COMPLETE, STREAMING = MessageStatus.COMPLETE, MessageStatus.STREAMING


@pytest.fixture
async def user(stores):
    return await stores.users.create_user("Alice", "hash-1")


async def test_users(stores, user):
    assert (await stores.users.get_user_by_name("alice")).id == user.id
    assert (await stores.users.get_user(user.id)).username == "Alice"
    with pytest.raises(Conflict):
        await stores.users.create_user("ALICE", "hash-2")
    await stores.users.create_user("bob", "hash-3")
    assert [u.username for u in await stores.users.list_users()] == ["Alice", "bob"]
    assert await stores.users.count_users() == 2
    await stores.users.set_password_hash(user.id, "hash-new", revoke_tokens=True)
    changed = await stores.users.get_user(user.id)
    assert (changed.password_hash, changed.token_version) == ("hash-new", 1)
    await stores.users.set_disabled(user.id, True)
    disabled = await stores.users.get_user(user.id)
    assert disabled.disabled and disabled.token_version == 2


async def test_pending_accounts_keep_their_email_and_are_approved_once(stores):
    pending = await stores.users.create_user("carol", "hash", pending=True, email="carol@example.org")
    stored = await stores.users.get_user_by_name("carol")
    assert (stored.pending, stored.email) == (True, "carol@example.org")
    assert [u.pending for u in await stores.users.list_users()] == [True]
    assert await stores.users.approve_user(pending.id)
    assert not (await stores.users.get_user(pending.id)).pending
    assert not await stores.users.approve_user(pending.id)  # approved already
    assert not await stores.users.approve_user("no-such-user")
    plain = await stores.users.create_user("dave", "hash")
    assert (plain.pending, plain.email) == (False, None)
    assert (await stores.users.get_user(plain.id)).email is None


async def test_the_setup_code_makes_one_admin_and_is_spent(stores):
    codes = stores.setup_codes
    await codes.put_setup_code("old")
    await codes.put_setup_code("current")  # replaces the earlier one
    assert not await codes.setup_code_matches("old")
    assert await codes.setup_code_matches("current")
    assert await codes.create_first_admin("old", "mallory", "hash") is None
    admin = await codes.create_first_admin("current", "Root", "hash")
    assert admin is not None and admin.is_admin and admin.username == "Root"
    assert (await stores.users.get_user_by_name("root")).is_admin
    assert not await codes.setup_code_matches("current")
    assert await codes.create_first_admin("current", "second", "hash") is None
    assert await stores.users.count_users() == 1


async def test_two_setups_racing_with_the_code_make_one_admin(stores, other_stores):
    await stores.setup_codes.put_setup_code("code")
    results = await asyncio.gather(
        stores.setup_codes.create_first_admin("code", "first", "hash"),
        other_stores.setup_codes.create_first_admin("code", "second", "hash"),
        return_exceptions=True,
    )
    assert sum(result is not None and not isinstance(result, BaseException) for result in results) == 1, results
    assert not any(isinstance(result, BaseException) for result in results), results
    assert await stores.users.count_users() == 1


async def test_a_setup_code_is_useless_once_an_account_exists(stores, user):
    await stores.setup_codes.put_setup_code("late")
    assert await stores.setup_codes.create_first_admin("late", "intruder", "hash") is None
    assert await stores.users.get_user_by_name("intruder") is None


async def say(stores, user_id, conversation_id, text, *, parent_id=None, role="user", **extra):
    return await stores.messages.append(
        user_id,
        conversation_id,
        parent_id=parent_id,
        role=role,
        parts=text_parts(text),
        status=MessageStatus.COMPLETE,
        **extra,
    )


async def test_deleting_a_user_takes_their_data(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    await say(stores, user.id, conversation.id, "x")
    await stores.usage.set_budget(user.id, 1000)
    await stores.usage.reserve(user.id, "2026-12", 10)
    await stores.usage.settle(usage_record(user.id, at=DEC_3), "2026-12", 10)
    assert await stores.users.delete_user(user.id)
    assert await stores.usage.daily(user.id, "2026-12-01", "2026-12-31") == []
    assert await stores.usage.month_used(user.id, "2026-12") == 0
    assert await stores.usage.get_budget(user.id) is None
    assert await stores.users.get_user(user.id) is None
    assert await stores.users.get_user_by_name("Alice") is None
    assert await stores.conversations.get_conversation(user.id, conversation.id) is None
    assert await stores.users.delete_user(user.id) is False
    await stores.users.create_user("alice", "again")  # the name is free again


async def test_conversations_are_owner_scoped_and_listed_newest_first(stores, user):
    other = await stores.users.create_user("mallory", "h")
    created = []
    for i in range(7):
        created.append(await stores.conversations.create_conversation(user.id, f"Chat {i}", "m"))
    await say(stores, user.id, created[2].id, "bump")
    expected = [created[2].id] + [c.id for c in reversed(created) if c.id != created[2].id]
    seen, cursor = [], None
    while True:
        page = await stores.conversations.list_conversations(user.id, 3, cursor)
        seen += [c.id for c in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected
    assert await stores.conversations.get_conversation(other.id, created[0].id) is None
    assert await stores.conversations.rename_conversation(other.id, created[0].id, "mine") is None
    assert await stores.conversations.delete_conversation(other.id, created[0].id) is False
    assert await stores.messages.all_messages(other.id, created[2].id) is None
    assert await say(stores, other.id, created[2].id, "x") is None
    assert (await stores.conversations.list_conversations(other.id, 10, None)).items == []


async def test_title_search_and_rename(stores, user):
    for title in ("Trip to Lisbon", "Pasta", "lisbon trams", "Taxes"):
        await stores.conversations.create_conversation(user.id, title, "m")
    found = await stores.conversations.list_conversations(user.id, 10, None, title_contains="LISBON")
    assert sorted(c.title for c in found.items) == ["Trip to Lisbon", "lisbon trams"]
    first = found.items[0]
    renamed = await stores.conversations.rename_conversation(user.id, first.id, "Porto")
    assert renamed.title == "Porto"
    assert len((await stores.conversations.list_conversations(user.id, 10, None, title_contains="lisbon")).items) == 1


async def test_a_bad_cursor_is_invalid_input(stores, user):
    with pytest.raises(InvalidInput):
        await stores.conversations.list_conversations(user.id, 10, "not-a-cursor")


async def test_messages_keep_large_content_usage_and_params(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    other = await stores.users.create_user("mallory", "h")
    big = "é" * 150_000 + "z" * 130_001  # over 400 KB in UTF-8: split across items on DynamoDB
    question = await say(stores, user.id, conversation.id, "q")
    params = {"temperature": 0.25, "max_tokens": 77, "system_prompt": "Be brief."}
    answer = await stores.messages.append(
        user.id,
        conversation.id,
        parent_id=question.id,
        role="assistant",
        parts=(),
        status=MessageStatus.STREAMING,
        model="m",
        params=params,
        client_msgid="req-1",
    )
    log = stores.messages
    assert await log.update(user.id, conversation.id, answer.id, parts=text_parts(big[:1000]), status=STREAMING)
    assert await log.update(
        user.id,
        conversation.id,
        answer.id,
        parts=text_parts(big),
        status=MessageStatus.COMPLETE,
        finish_reason="stop",
        prompt_tokens=3,
        completion_tokens=9,
    )
    messages = await log.all_messages(user.id, conversation.id)
    assert [(m.role, m.parent_id) for m in messages] == [("user", None), ("assistant", question.id)]
    saved = messages[1]
    assert saved.content == big
    assert (saved.status, saved.finish_reason, saved.prompt_tokens, saved.completion_tokens) == (
        MessageStatus.COMPLETE,
        "stop",
        3,
        9,
    )
    assert (saved.model, saved.params, saved.client_msgid) == ("m", params, "req-1")
    # Someone else's save changes nothing, and says so.
    assert not await log.update(other.id, conversation.id, answer.id, parts=text_parts("mine"), status=COMPLETE)
    elsewhere = await stores.conversations.create_conversation(user.id, "other", "m")
    assert not await log.update(user.id, elsewhere.id, answer.id, parts=text_parts("moved"), status=COMPLETE)
    assert (await log.all_messages(user.id, conversation.id))[1].content == big
    # A shorter save leaves nothing of the longer one behind; the reason and usage are kept when not given.
    assert await log.update(user.id, conversation.id, answer.id, parts=text_parts("short now"), status=COMPLETE)
    (path_answer,) = [m for m in await log.path(user.id, conversation.id) if m.role == "assistant"]
    assert (path_answer.content, path_answer.finish_reason, path_answer.completion_tokens) == ("short now", "stop", 9)


async def test_parts_of_a_type_this_version_does_not_know_are_kept(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    parts = (
        TextPart("Look at this: "),
        OpaquePart("attachment", {"type": "attachment", "id": "a1", "name": "cat.png", "size": 12345}),
        TextPart("what is it?"),
    )
    message = await stores.messages.append(
        user.id, conversation.id, parent_id=None, role="user", parts=parts, status=COMPLETE
    )
    (saved,) = await stores.messages.all_messages(user.id, conversation.id)
    assert saved.parts == parts
    assert saved.content == "Look at this: what is it?"
    await stores.messages.update(user.id, conversation.id, message.id, parts=saved.parts, status=COMPLETE)
    assert (await stores.messages.path(user.id, conversation.id))[0].parts == parts


async def test_a_conversation_is_a_tree_and_nothing_is_deleted_by_a_branch(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    log = stores.messages
    q1 = await say(stores, user.id, conversation.id, "q1")
    a1 = await say(stores, user.id, conversation.id, "a1", parent_id=q1.id, role="assistant")
    q2 = await say(stores, user.id, conversation.id, "q2", parent_id=a1.id)
    a2 = await say(stores, user.id, conversation.id, "a2", parent_id=q2.id, role="assistant")
    assert (await stores.conversations.get_conversation(user.id, conversation.id)).current_leaf_id == a2.id
    # An edit of q2: a sibling with the same parent, answered; it becomes the current branch.
    q2b = await say(stores, user.id, conversation.id, "q2 edited", parent_id=a1.id)
    a2b = await say(stores, user.id, conversation.id, "a2 again", parent_id=q2b.id, role="assistant")
    assert [m.content for m in await log.path(user.id, conversation.id)] == ["q1", "a1", "q2 edited", "a2 again"]
    assert [m.content for m in await log.path(user.id, conversation.id, a2.id)] == ["q1", "a1", "q2", "a2"]
    assert [m.id for m in await log.children(user.id, conversation.id, a1.id)] == [q2.id, q2b.id]
    assert [m.id for m in await log.children(user.id, conversation.id, None)] == [q1.id]
    assert await log.children(user.id, conversation.id, a2b.id) == []
    assert len(await log.all_messages(user.id, conversation.id)) == 6
    seqs = [m.seq for m in await log.all_messages(user.id, conversation.id)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 6

    assert await log.set_current_leaf(user.id, conversation.id, a2.id)
    assert (await stores.conversations.get_conversation(user.id, conversation.id)).current_leaf_id == a2.id
    assert [m.content for m in await log.path(user.id, conversation.id)] == ["q1", "a1", "q2", "a2"]
    # A new first message (an edit of the first question) is a root beside q1.
    root = await say(stores, user.id, conversation.id, "q1 edited")
    assert [m.id for m in await log.children(user.id, conversation.id, None)] == [q1.id, root.id]
    assert [m.content for m in await log.path(user.id, conversation.id)] == ["q1 edited"]


async def test_a_branch_never_crosses_conversations_or_owners(stores, user):
    log = stores.messages
    other = await stores.users.create_user("mallory", "h")
    mine = await stores.conversations.create_conversation(user.id, "mine", "m")
    elsewhere = await stores.conversations.create_conversation(user.id, "elsewhere", "m")
    theirs = await stores.conversations.create_conversation(other.id, "theirs", "m")
    q = await say(stores, user.id, mine.id, "q")
    foreign = await say(stores, user.id, elsewhere.id, "elsewhere")
    their_message = await say(stores, other.id, theirs.id, "theirs")
    assert await say(stores, user.id, mine.id, "x", parent_id=foreign.id) is None
    assert await say(stores, user.id, mine.id, "x", parent_id="no-such-message") is None
    assert await say(stores, other.id, mine.id, "x", parent_id=q.id) is None
    assert await log.set_current_leaf(user.id, mine.id, foreign.id) is False
    assert await log.set_current_leaf(other.id, mine.id, q.id) is False
    assert await log.set_current_leaf(user.id, mine.id, their_message.id) is False
    assert await log.path(user.id, mine.id, foreign.id) is None
    assert await log.path(other.id, mine.id) is None
    assert await log.children(other.id, mine.id, None) is None
    assert [m.id for m in await log.all_messages(user.id, mine.id)] == [q.id]  # nothing was written
    assert (await stores.conversations.get_conversation(user.id, mine.id)).current_leaf_id == q.id


async def test_an_empty_conversation_has_an_empty_path(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    assert conversation.current_leaf_id is None
    assert await stores.messages.path(user.id, conversation.id) == []
    assert await stores.messages.children(user.id, conversation.id, None) == []


def imported(conversation_id, message_id, parent_id, role, text, at, **extra):
    return Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=0,
        role=role,
        parts=text_parts(text),
        status=MessageStatus.COMPLETE,
        created_at=at,
        updated_at=at + 1,
        parent_id=parent_id,
        **extra,
    )


async def test_insert_many_keeps_ids_parents_and_timestamps_all_or_nothing(stores, user):
    log = stores.messages
    conversation = await stores.conversations.create_conversation(user.id, "imported", "m")
    big = "ü" * 120_000
    batch = [
        imported(conversation.id, "root", None, "system", "be kind", 1000.0),
        imported(conversation.id, "q", "root", "user", "hello", 1001.0),
        imported(conversation.id, "a", "q", "assistant", big, 1002.0, model="m", prompt_tokens=4, completion_tokens=5),
        imported(conversation.id, "a-2", "q", "assistant", "another answer", 1003.0, finish_reason="stop"),
    ]
    assert await log.insert_many(user.id, conversation.id, batch)
    saved = await log.all_messages(user.id, conversation.id)
    assert [(m.id, m.parent_id, m.role, m.content, m.created_at, m.updated_at) for m in saved] == [
        (m.id, m.parent_id, m.role, m.content, m.created_at, m.updated_at) for m in batch
    ]
    assert (saved[2].model, saved[2].prompt_tokens, saved[2].completion_tokens) == ("m", 4, 5)
    assert saved[3].finish_reason == "stop"
    assert [m.id for m in await log.path(user.id, conversation.id, "a")] == ["root", "q", "a"]
    # The conversation's branch is not moved by an import; here it has none, so it is the newest message's.
    assert [m.id for m in await log.path(user.id, conversation.id)] == ["root", "q", "a-2"]
    # A message added after the import continues the numbering.
    after = await say(stores, user.id, conversation.id, "more", parent_id="a")
    assert after.seq > max(m.seq for m in saved)

    def count():
        return log.all_messages(user.id, conversation.id)

    before = len(await count())
    with pytest.raises(Conflict):  # the last one's id is taken: none of them is written
        await log.insert_many(
            user.id,
            conversation.id,
            [
                imported(conversation.id, "new-1", "a", "user", "x", 1.0),
                imported(conversation.id, "q", None, "user", "y", 1.0),
            ],
        )
    with pytest.raises(InvalidInput):  # a parent that is not there
        await log.insert_many(
            user.id,
            conversation.id,
            [
                imported(conversation.id, "new-2", "q", "user", "x", 1.0),
                imported(conversation.id, "new-3", "nope", "user", "y", 1.0),
            ],
        )
    with pytest.raises(InvalidInput):  # an unknown role
        await log.insert_many(user.id, conversation.id, [imported(conversation.id, "new-4", None, "wizard", "x", 1.0)])
    assert len(await count()) == before
    other = await stores.users.create_user("mallory", "h")
    assert (
        await log.insert_many(other.id, conversation.id, [imported(conversation.id, "z", None, "user", "x", 1.0)])
        is False
    )
    assert len(await count()) == before


async def test_two_tabs_appending_at_once_lose_nothing(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")

    async def tab(name: str) -> None:
        parent = None
        for i in range(10):
            message = await say(stores, user.id, conversation.id, f"{name}{i}", parent_id=parent)
            parent = message.id

    await asyncio.gather(tab("a"), tab("b"))
    messages = await stores.messages.all_messages(user.id, conversation.id)
    assert len(messages) == 20
    assert len({m.seq for m in messages}) == 20
    assert sorted(m.content for m in messages) == sorted([f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)])
    leaf = (await stores.conversations.get_conversation(user.id, conversation.id)).current_leaf_id
    path = await stores.messages.path(user.id, conversation.id)
    assert path[-1].id == leaf and len(path) == 10  # the tab that wrote last


async def test_deleting_a_conversation_removes_its_messages(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    question = await say(stores, user.id, conversation.id, "x")
    await say(stores, user.id, conversation.id, "y" * 250_000, parent_id=question.id, role="assistant")
    assert await stores.conversations.delete_conversation(user.id, conversation.id)
    assert await stores.messages.all_messages(user.id, conversation.id) is None
    assert await stores.messages.path(user.id, conversation.id) is None
    assert not await stores.messages.update(
        user.id, conversation.id, question.id, parts=text_parts("back?"), status=COMPLETE
    )


async def search_all(stores, user_id, query, limit=50):
    """Every hit of a query, page after page."""
    hits, cursor = [], None
    while True:
        page = await stores.search.search(user_id, query, limit, cursor)
        hits += page.items
        cursor = page.next_cursor
        if cursor is None:
            return hits


def marked(hit):
    """The snippet with its highlights in brackets, for comparing."""
    text, out, at = hit.snippet, [], 0
    for start, end in hit.highlights:
        out += [text[at:start], "[", text[start:end], "]"]
        at = end
    return "".join([*out, text[at:]])


async def test_search_ranks_hits_and_marks_the_words_found(stores, user):
    trip = await stores.conversations.create_conversation(user.id, "Trip to Lisbon", "m")
    food = await stores.conversations.create_conversation(user.id, "Cooking", "m")
    once = await say(stores, user.id, food.id, "apple pear plum kiwi")
    thrice = await say(stores, user.id, food.id, "apple apple apple pear", parent_id=once.id, role="assistant")
    question = await say(stores, user.id, trip.id, "Which trams go up to the castle in Lisbon? Tram 28, I read.")

    hits = await stores.search.search(user.id, "apple", 10, None)
    assert [h.message_id for h in hits.items] == [thrice.id, once.id]  # the word three times ranks first
    assert hits.next_cursor is None
    assert {h.conversation_id for h in hits.items} == {food.id}
    assert (hits.items[0].role, hits.items[0].title) == ("assistant", "Cooking")
    assert marked(hits.items[0]) == "[apple] [apple] [apple] pear"

    both = await stores.search.search(user.id, "lisbon CASTLE", 10, None)  # every word, any order, any case
    assert [h.message_id for h in both.items] == [question.id]
    assert marked(both.items[0]) == "Which trams go up to the [castle] in [Lisbon]? Tram 28, I read."

    lisbon = await stores.search.search(user.id, "lisbon", 10, None)
    title_hit = [h for h in lisbon.items if h.message_id is None]
    assert len(lisbon.items) == 2 and len(title_hit) == 1
    assert (title_hit[0].conversation_id, title_hit[0].role, marked(title_hit[0])) == (
        trip.id,
        None,
        "Trip to [Lisbon]",
    )
    assert await search_all(stores, user.id, "castle apple") == []  # no message has both


async def test_search_compares_words_without_case_or_accents(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    message = await say(stores, user.id, conversation.id, "Un café crème à Zürich, s'il vous plaît.")
    for query in ("CAFE", "creme zurich", "Café", "PLAIT"):
        hits = await stores.search.search(user.id, query, 10, None)
        assert [h.message_id for h in hits.items] == [message.id], query
    assert await search_all(stores, user.id, "caf") == []  # whole words only


async def test_search_finds_only_the_owners_words(stores, user):
    other = await stores.users.create_user("mallory", "h")
    mine = await stores.conversations.create_conversation(user.id, "secret plans", "m")
    theirs = await stores.conversations.create_conversation(other.id, "secret recipes", "m")
    await say(stores, user.id, mine.id, "the secret is in the sauce")
    await say(stores, other.id, theirs.id, "a secret of mine")
    assert {h.conversation_id for h in await search_all(stores, user.id, "secret")} == {mine.id}
    assert {h.conversation_id for h in await search_all(stores, other.id, "secret")} == {theirs.id}
    assert await search_all(stores, other.id, "sauce") == []
    assert await search_all(stores, other.id, "plans") == []


async def test_search_indexes_an_answer_once_it_is_final(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    question = await say(stores, user.id, conversation.id, "tell me about glaciers")
    assert [h.message_id for h in await search_all(stores, user.id, "glaciers")] == [question.id]
    answer = await stores.messages.append(
        user.id, conversation.id, parent_id=question.id, role="assistant", parts=(), status=STREAMING
    )
    await stores.messages.update(
        user.id, conversation.id, answer.id, parts=text_parts("Moraines are"), status=STREAMING
    )
    assert await search_all(stores, user.id, "moraines") == []  # not while it streams
    await stores.messages.update(
        user.id, conversation.id, answer.id, parts=text_parts("Moraines are ridges of till"), status=STREAMING
    )
    assert await search_all(stores, user.id, "moraines") == []
    await stores.messages.update(
        user.id,
        conversation.id,
        answer.id,
        parts=text_parts("Moraines are ridges of till."),
        status=MessageStatus.STOPPED,
        finish_reason="stopped",
    )
    assert [h.message_id for h in await search_all(stores, user.id, "till")] == [answer.id]
    # Saved again (settled differently): the words are those of the last save, once.
    await stores.messages.update(
        user.id, conversation.id, answer.id, parts=text_parts("Eskers are ridges."), status=MessageStatus.INTERRUPTED
    )
    assert await search_all(stores, user.id, "till") == []
    assert [h.message_id for h in await search_all(stores, user.id, "ridges")] == [answer.id]
    # Imported messages are final as they come.
    await stores.messages.insert_many(
        user.id, conversation.id, [imported(conversation.id, "imp-1", question.id, "assistant", "drumlins", 5.0)]
    )
    assert [h.message_id for h in await search_all(stores, user.id, "drumlins")] == ["imp-1"]


async def test_search_forgets_deleted_conversations_and_old_titles(stores, user):
    kept = await stores.conversations.create_conversation(user.id, "Volcanoes", "m")
    gone = await stores.conversations.create_conversation(user.id, "Volcanoes too", "m")
    await say(stores, user.id, kept.id, "basalt flows")
    question = await say(stores, user.id, gone.id, "basalt columns")
    await say(stores, user.id, gone.id, "y " * 60_000 + "basalt", parent_id=question.id, role="assistant")
    assert len(await search_all(stores, user.id, "basalt")) == 3
    assert await stores.conversations.delete_conversation(user.id, gone.id)
    assert {h.conversation_id for h in await search_all(stores, user.id, "basalt")} == {kept.id}
    assert {h.conversation_id for h in await search_all(stores, user.id, "volcanoes")} == {kept.id}
    await stores.conversations.rename_conversation(user.id, kept.id, "Lava")
    assert await search_all(stores, user.id, "volcanoes") == []
    assert [(h.conversation_id, h.title) for h in await search_all(stores, user.id, "lava")] == [(kept.id, "Lava")]
    assert [h.title for h in await search_all(stores, user.id, "basalt")] == ["Lava"]
    await stores.users.delete_user(user.id)
    assert await search_all(stores, user.id, "basalt") == []


async def test_search_pages_follow_the_ranking_with_a_cursor(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    parent, expected = None, []
    for i in range(7):
        # Equal length, the word i+1 times: the ranking is the reverse of the writing order.
        text = " ".join(["comet"] * (i + 1) + ["dust"] * (7 - i))
        parent = (await say(stores, user.id, conversation.id, text, parent_id=parent)).id
        expected.insert(0, parent)
    pages, cursor = [], None
    while True:
        page = await stores.search.search(user.id, "comet", 3, cursor)
        pages.append([h.message_id for h in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == [expected[:3], expected[3:6], expected[6:]]
    for bad in ("not-a-cursor", "e30", "eyJvZmZzZXQiOiAtMX0"):  # junk, {}, {"offset": -1}
        with pytest.raises(InvalidInput):
            await stores.search.search(user.id, "comet", 3, bad)


async def test_a_word_in_very_many_messages_ranks_the_newest_but_finds_all_with_a_rarer_word(stores, user, monkeypatch):
    # Both stores bound the ranking work for a word found in very many messages; made small here.
    monkeypatch.setattr("parley.core.store.sqlite.search.RANK_WINDOW", 3)
    monkeypatch.setattr("parley.aws.dynamodb.search.MAX_POSTINGS_READ", 3)
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    parent, written = None, []
    for i in range(8):
        text = "common words here and the rare one" if i == 0 else f"common words here, number {i}"
        parent = (await say(stores, user.id, conversation.id, text, parent_id=parent)).id
        written.append(parent)
    assert {h.message_id for h in await search_all(stores, user.id, "common")} == set(written[-3:])
    assert [h.message_id for h in await search_all(stores, user.id, "common rare")] == [written[0]]
    assert [h.message_id for h in await search_all(stores, user.id, "rare common words")] == [written[0]]


NASTY_QUERIES = [
    "",
    "   ",
    '"',
    '"unbalanced',
    "NEAR(",
    "NEAR(lisbon trams, 2)",
    "lisbon OR",
    "AND",
    "NOT lisbon",
    "-lisbon",
    "lis*",
    "*",
    "title:lisbon",
    "{title body}: lisbon",
    "^lisbon",
    "(((",
    "lisbon)",
    "'; DROP TABLE messages; --",
    "\x00\u0000",
    "\x02lisbon\x03",
    "%_",
    "💥🔥",
    "a" * 70,
    "lisbon " * 40,
    "x" * 5000,
]


async def test_no_query_is_an_error(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "Lisbon", "m")
    await say(stores, user.id, conversation.id, "Which trams go up to Lisbon's castle?")
    for query in NASTY_QUERIES:
        page = await stores.search.search(user.id, query, 10, None)
        assert all(h.conversation_id == conversation.id for h in page.items), query
    # Punctuation is never syntax: the words in it are still searched for.
    for query in ('"lisbon', '"trams lisbon', "(lisbon)", "castle?*", "^lisbon", "\x02lisbon\x03"):
        assert len((await stores.search.search(user.id, query, 10, None)).items) >= 1, query
    for query in ("lisbon OR", "NOT lisbon", "title:lisbon"):  # OR, NOT, title are words like any other
        assert (await stores.search.search(user.id, query, 10, None)).items == [], query


async def test_tickets_revocations_and_throttle(stores, user):
    now = time.time()
    session = SessionRef(user.id, "j1", 3)
    await stores.tickets.put_ticket("t1", session, now + 60)
    results = await asyncio.gather(*(stores.tickets.take_ticket("t1", now) for _ in range(5)))
    assert results.count(session) == 1 and results.count(None) == 4
    await stores.tickets.put_ticket("t2", session, now - 1)
    assert await stores.tickets.take_ticket("t2", now) is None

    assert not await stores.revoked_tokens.is_revoked("j1")
    await stores.revoked_tokens.revoke("j1", now + 3600, user_id=user.id)
    assert await stores.revoked_tokens.is_revoked("j1")

    assert (await stores.throttle.hit("k", now, 60))[0] == 1
    count, ends = await stores.throttle.hit("k", now + 1, 60)
    assert count == 2 and ends == pytest.approx(now + 60)
    assert await stores.throttle.hit("k", now + 61, 60) == (1, pytest.approx(now + 121))  # a new window
    await stores.throttle.refund("k", now + 62)
    assert (await stores.throttle.hit("k", now + 63, 60))[0] == 1
    await stores.throttle.refund("k", now + 200)  # that window has ended: nothing to take back
    await stores.throttle.refund("never-counted", now)
    assert (await stores.throttle.hit("k", now + 64, 60))[0] == 2
    await stores.throttle.clear("k")
    assert (await stores.throttle.hit("k", now + 62, 60))[0] == 1


async def test_attempts_counted_at_once_by_two_processes_each_get_their_own_count(stores, other_stores):
    # What login throttling relies on: 150 attempts in flight together, half through another process (a
    # second Lambda container), are numbered 1 to 150, so exactly ``limit`` of them are within any limit.
    now = time.time()
    counts = await asyncio.gather(*((stores, other_stores)[i % 2].throttle.hit("burst", now, 60) for i in range(150)))
    assert sorted(count for count, _ in counts) == list(range(1, 151))
    assert [ends for _, ends in counts] == [pytest.approx(now + 60)] * 150


async def test_preferences(stores, user):
    assert await stores.preferences.get_preferences(user.id) is None
    await stores.preferences.put_preferences(user.id, {"theme": "dark", "temperature": 0.5})
    assert await stores.preferences.get_preferences(user.id) == {"theme": "dark", "temperature": 0.5}


async def test_connections_and_stop_signals(stores, user):
    now = time.time()
    other = await stores.users.create_user("bob", "h")
    await stores.connections.put_connection("c1", SessionRef(user.id, "j1", 0), now + 3600)
    await stores.connections.put_connection("c2", SessionRef(user.id, "j2", 3), now + 3600)
    await stores.connections.put_connection("c3", SessionRef(user.id, "j2", 0), now + 3600)
    await stores.connections.put_connection("c4", SessionRef(other.id, "j9", 0), now + 3600)
    await stores.connections.put_connection("old", SessionRef(user.id, "j2", 0), now - 1)
    # The whole session is kept, so that each message can check it still stands.
    assert await stores.connections.get_connection("c1") == SessionRef(user.id, "j1", 0)
    assert await stores.connections.get_connection("c2") == SessionRef(user.id, "j2", 3)
    assert await stores.connections.get_connection("old") is None
    assert await stores.connections.get_connection("never-opened") is None
    assert sorted(await stores.connections.user_connections(user.id)) == ["c1", "c2", "c3"]
    assert sorted(await stores.connections.user_connections(user.id, jti="j2")) == ["c2", "c3"]
    assert await stores.connections.user_connections(user.id, jti="j9") == []  # another user's session
    await stores.connections.delete_connection("c1")
    assert await stores.connections.get_connection("c1") is None
    assert sorted(await stores.connections.user_connections(user.id)) == ["c2", "c3"]
    assert await stores.connections.user_connections(user.id, jti="j1") == []

    signals = stores.stop_signals
    assert await signals.request_stop(user.id, "m1") is False
    assert await register(stores, user.id, "m1") is Registration.STARTED
    assert await register(stores, user.id, "m1") is Registration.DUPLICATE  # the same msgid again
    assert await register(stores, "someone-else", "m1") is Registration.STARTED
    assert await signals.stop_requested(user.id, "m1") is False
    assert await signals.request_stop(user.id, "m1") is True
    assert await signals.stop_requested(user.id, "m1") is True
    assert await signals.stop_requested("someone-else", "m1") is False
    await signals.finish_generation(user.id, "m1")
    assert await signals.request_stop(user.id, "m1") is False  # finished: nothing to stop
    assert await register(stores, user.id, "m1") is Registration.DUPLICATE  # still taken
    results = await asyncio.gather(*(register(stores, user.id, "race") for _ in range(5)))
    assert results.count(Registration.STARTED) == 1
    assert set(results) == {Registration.STARTED, Registration.DUPLICATE}


async def register(stores, user_id, msgid, *, max_running=4, lease_seconds=900.0):
    now = time.time()
    return await stores.stop_signals.register_generation(
        user_id, msgid, now + 1200, max_running=max_running, lease_until=now + lease_seconds
    )


async def test_connections_follow_a_running_answer_until_it_finishes(stores, user):
    signals = stores.stop_signals
    assert await signals.follow(user.id, "f1", "conn-a", 0) is False  # no such answer
    assert await signals.signals(user.id, "f1") == LiveSignals()
    assert await register(stores, user.id, "f1") is Registration.STARTED
    assert await signals.signals(user.id, "f1") == LiveSignals(stop_requested=False, followers={})
    assert await signals.follow(user.id, "f1", "conn-a", 12) is True
    assert await signals.follow(user.id, "f1", "conn-b", 0) is True
    assert await signals.follow(user.id, "f1", "conn-a", 40) is True  # asked again, from where it is now
    assert await signals.follow("someone-else", "f1", "conn-c", 0) is False  # only the user's own answer
    await signals.request_stop(user.id, "f1")
    read = await signals.signals(user.id, "f1")
    assert read.stop_requested is True
    assert dict(read.followers) == {"conn-a": 40, "conn-b": 0}
    for i in range(MAX_FOLLOWERS - 2):
        assert await signals.follow(user.id, "f1", f"more-{i}", 0) is True
    assert await signals.follow(user.id, "f1", "one-too-many", 0) is False
    await signals.finish_generation(user.id, "f1")
    assert await signals.follow(user.id, "f1", "conn-late", 0) is False  # finished: nothing to follow
    assert "conn-late" not in (await signals.signals(user.id, "f1")).followers


async def test_answer_slots_cap_a_user_until_an_answer_finishes(stores, user):
    for i in range(4):
        assert await register(stores, user.id, f"a{i}") is Registration.STARTED
    assert await register(stores, user.id, "a4") is Registration.AT_CAPACITY
    assert await register(stores, user.id, "a0") is Registration.DUPLICATE  # a duplicate is told as such
    assert await register(stores, "someone-else", "b0") is Registration.STARTED  # each user has their own
    await stores.stop_signals.finish_generation(user.id, "a2")
    # The refused msgid was not consumed: it starts once a slot is free, and the slot is taken again.
    assert await register(stores, user.id, "a4") is Registration.STARTED
    assert await register(stores, user.id, "a5") is Registration.AT_CAPACITY
    assert await stores.stop_signals.request_stop(user.id, "a4") is True


async def test_a_refused_answer_writes_nothing(stores, user):
    for i in range(2):
        assert await register(stores, user.id, f"r{i}", max_running=2) is Registration.STARTED
    assert await register(stores, user.id, "refused", max_running=2) is Registration.AT_CAPACITY
    assert await stores.stop_signals.request_stop(user.id, "refused") is False  # no record of it
    assert await register(stores, user.id, "refused", max_running=3) is Registration.STARTED


async def test_an_answer_that_never_finishes_frees_its_slot_when_its_lease_ends(stores, user):
    # A process that died mid-answer: its lease has already ended.
    assert await register(stores, user.id, "stuck", max_running=1, lease_seconds=-1) is Registration.STARTED
    assert await register(stores, user.id, "fresh", max_running=1) is Registration.STARTED
    assert await register(stores, user.id, "third", max_running=1) is Registration.AT_CAPACITY
    # The stuck answer reporting its end late must not free the slot that "fresh" now holds.
    await stores.stop_signals.finish_generation(user.id, "stuck")
    assert await register(stores, user.id, "third", max_running=1) is Registration.AT_CAPACITY
    await stores.stop_signals.finish_generation(user.id, "fresh")
    assert await register(stores, user.id, "third", max_running=1) is Registration.STARTED


async def test_two_processes_starting_answers_at_once_never_exceed_the_cap(stores, other_stores, user):
    msgids = [f"c{i}" for i in range(12)]
    results = await asyncio.gather(*(register((stores, other_stores)[i % 2], user.id, m) for i, m in enumerate(msgids)))
    assert results.count(Registration.STARTED) == 4
    assert results.count(Registration.AT_CAPACITY) == 8
    started = [m for m, result in zip(msgids, results, strict=True) if result is Registration.STARTED]
    await other_stores.stop_signals.finish_generation(user.id, started[0])
    assert await register(stores, user.id, "late") is Registration.STARTED  # released by the other process


async def test_request_rate_buckets(stores):
    rate = stores.request_rate
    now = time.time()
    assert [await rate.take("alice", now, 1.0, 3) for _ in range(3)] == [0, 0, 0]
    assert await rate.take("alice", now, 1.0, 3) == pytest.approx(1.0)
    assert await rate.take("bob", now, 1.0, 3) == 0  # each key has its own bucket
    assert await rate.take("alice", now + 1, 1.0, 3) == 0  # refilled by one
    assert await rate.take("alice", now + 1, 1.0, 3) == pytest.approx(1.0)
    assert await rate.take("alice", now + 10, 1.0, 3) == 0  # full again after a pause
    assert [await rate.take("alice", now + 10, 1.0, 3) for _ in range(2)] == [0, 0]
    assert await rate.take("alice", now + 10, 1.0, 3) > 0


async def test_request_rate_under_concurrent_requests(stores):
    now = time.time()
    waits = await asyncio.gather(*(stores.request_rate.take("carol", now, 6.0, 5) for _ in range(12)))
    assert waits.count(0) == 5
    assert all(wait > 0 for wait in waits if wait != 0)


def usage_record(user_id, model="m1", prompt=10, completion=5, *, at=None, estimated=False, key_id=None):
    return UsageRecord(
        user_id=user_id,
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        estimated=estimated,
        source="app",
        created_at=time.time() if at is None else at,
        key_id=key_id,
    )


DEC_3 = 1_796_256_000.0  # 2026-12-03 00:00 UTC


async def test_usage_is_totalled_per_day_and_model_and_scoped_to_its_user(stores, user):
    other = await stores.users.create_user("mallory", "h")
    await stores.usage.settle(usage_record(user.id, "m1", 10, 5, at=DEC_3 + 60), "2026-12", 0)
    await stores.usage.settle(usage_record(user.id, "m1", 7, 3, at=DEC_3 + 3600, estimated=True), "2026-12", 0)
    await stores.usage.settle(usage_record(user.id, "m2", 1, 1, at=DEC_3 + 86_400, key_id="k1"), "2026-12", 0)
    await stores.usage.settle(usage_record(user.id, "m1", 100, 100, at=DEC_3 - 86_400), "2026-12", 0)
    await stores.usage.settle(usage_record(other.id, "m1", 50, 50, at=DEC_3 + 60), "2026-12", 0)
    await stores.usage.settle(usage_record(user.id, "m1", 0, 0, at=DEC_3 + 60), "2026-12", 0)  # nothing used

    assert await stores.usage.daily(user.id, "2026-12-03", "2026-12-04") == [
        DailyUsage("2026-12-03", "m1", 17, 8, 2),
        DailyUsage("2026-12-04", "m2", 1, 1, 1),
    ]
    assert await stores.usage.daily(user.id, "2026-12-04", "2026-12-04") == [DailyUsage("2026-12-04", "m2", 1, 1, 1)]
    assert await stores.usage.daily(other.id, "2026-12-03", "2026-12-03") == [DailyUsage("2026-12-03", "m1", 50, 50, 1)]
    assert await stores.usage.daily(user.id, "2027-01-01", "2027-01-31") == []
    assert await stores.usage.month_used(user.id, "2026-12") == 17 + 8 + 2 + 200
    assert await stores.usage.month_used(other.id, "2026-12") == 100
    assert await stores.usage.month_used(user.id, "2027-01") == 0


async def test_a_reservation_is_replaced_by_what_the_answer_used(stores, user):
    assert await stores.usage.reserve(user.id, "2026-12", 1000) is None  # no budget: reserved all the same
    assert await stores.usage.month_used(user.id, "2026-12") == 1000
    await stores.usage.settle(usage_record(user.id, prompt=30, completion=20, at=DEC_3), "2026-12", 1000)
    assert await stores.usage.month_used(user.id, "2026-12") == 50
    assert await stores.usage.reserve(user.id, "2026-12", 300) is None
    await stores.usage.settle(usage_record(user.id, prompt=0, completion=0, at=DEC_3), "2026-12", 300)  # released
    assert await stores.usage.month_used(user.id, "2026-12") == 50


async def test_budgets_are_set_read_and_cleared_and_refuse_once_reached(stores, user):
    assert await stores.usage.get_budget(user.id) is None
    assert await stores.usage.clear_budget(user.id) is False
    await stores.usage.set_budget(user.id, 500)
    await stores.usage.set_budget(user.id, 100)
    assert await stores.usage.get_budget(user.id) == 100
    assert await stores.usage.reserve(user.id, "2026-12", 99) is None
    assert await stores.usage.reserve(user.id, "2026-12", 50) is None  # 99 < 100: one more answer may start
    assert await stores.usage.reserve(user.id, "2026-12", 1) == 100  # reached: refused, nothing added
    assert await stores.usage.month_used(user.id, "2026-12") == 149
    assert await stores.usage.reserve(user.id, "2027-01", 10) is None  # a new month starts from zero
    assert await stores.usage.clear_budget(user.id) is True
    assert await stores.usage.get_budget(user.id) is None
    assert await stores.usage.reserve(user.id, "2026-12", 1) is None


async def test_parallel_reservations_never_overshoot_a_budget_by_more_than_one(stores, other_stores, user):
    # Two processes (two Lambda containers, or the server's threads) reserving at once: the check and the
    # increment are one atomic step, so at most one reservation passes the budget.
    budget, each = 1000, 90
    await stores.usage.set_budget(user.id, budget)
    results = await asyncio.gather(
        *((stores if i % 2 else other_stores).usage.reserve(user.id, "2026-12", each) for i in range(40))
    )
    granted = sum(1 for result in results if result is None)
    used = await stores.usage.month_used(user.id, "2026-12")
    assert used == granted * each
    assert budget <= used < budget + each
    assert all(result in (None, budget) for result in results)


async def test_imports_are_recorded_once_per_source_and_owner(stores, user):
    other = await stores.users.create_user("bob", "hash-2")
    assert await stores.imports.imported_as(user.id, "chatgpt", "abc") is None
    assert await stores.imports.record_import(user.id, "chatgpt", "abc", "conv-1")
    assert not await stores.imports.record_import(user.id, "chatgpt", "abc", "conv-2")  # the race's loser
    assert await stores.imports.imported_as(user.id, "chatgpt", "abc") == "conv-1"
    assert await stores.imports.imported_as(user.id, "openwebui", "abc") is None
    assert await stores.imports.imported_as(other.id, "chatgpt", "abc") is None
    long_id = "é#/" * 500  # a source's ids are of any length and alphabet
    assert await stores.imports.record_import(user.id, "chatgpt", long_id, "conv-3")
    assert await stores.imports.imported_as(user.id, "chatgpt", long_id) == "conv-3"
    await stores.imports.forget_import(user.id, "chatgpt", "abc")
    assert await stores.imports.imported_as(user.id, "chatgpt", "abc") is None


async def test_import_jobs_are_owner_scoped_and_listed_newest_first(stores, user):
    import dataclasses

    from parley.core.store.base import ImportStatus, SkippedConversation

    other = await stores.users.create_user("bob", "hash-2")
    first = await stores.import_jobs.create_job(user.id, "one.zip", 100)
    assert (first.status, first.bytes_read, first.skipped, first.error) == (ImportStatus.QUEUED, 0, (), None)
    second = await stores.import_jobs.create_job(user.id, "two.json", 5)
    await stores.import_jobs.create_job(other.id, "theirs.zip", 1)
    finished = dataclasses.replace(
        first,
        status=ImportStatus.DONE,
        bytes_read=100,
        conversations_imported=3,
        duplicates=1,
        skipped=(SkippedConversation("Ünïcode title", "message 2 has no role"),),
    )
    await stores.import_jobs.save_job(finished)
    got = await stores.import_jobs.get_job(user.id, first.id)
    assert dataclasses.replace(got, updated_at=finished.updated_at) == finished
    assert got.updated_at >= first.updated_at
    assert await stores.import_jobs.get_job(other.id, first.id) is None
    assert [j.id for j in await stores.import_jobs.list_jobs(user.id, 10)] == [second.id, first.id]
    assert [j.id for j in await stores.import_jobs.list_jobs(user.id, 1)] == [second.id]


async def test_deleting_a_user_takes_their_imports(stores, user):
    await stores.imports.record_import(user.id, "chatgpt", "abc", "conv-1")
    job = await stores.import_jobs.create_job(user.id, "one.zip", 100)
    assert await stores.users.delete_user(user.id)
    again = await stores.users.create_user("alice2", "hash")
    assert await stores.import_jobs.get_job(user.id, job.id) is None
    assert await stores.imports.imported_as(user.id, "chatgpt", "abc") is None
    assert await stores.import_jobs.list_jobs(again.id, 10) == []


async def test_a_conversation_can_be_created_with_the_times_of_its_source(stores, user):
    made = await stores.conversations.create_conversation(user.id, "old", "m", created_at=1000.5, updated_at=2000.25)
    got = await stores.conversations.get_conversation(user.id, made.id)
    assert (got.created_at, got.updated_at) == (1000.5, 2000.25)
    dated = await stores.conversations.create_conversation(user.id, "dated", "m", created_at=3000.0)
    assert (dated.created_at, dated.updated_at) == (3000.0, 3000.0)
    page = await stores.conversations.list_conversations(user.id, 10, None)
    assert [c.title for c in page.items] == ["dated", "old"]  # listed by their own last activity


def _shared(*texts, role="user"):
    return [
        SharedMessage(role=role, parts=text_parts(t), model="m", created_at=1000.0 + i) for i, t in enumerate(texts)
    ]


def _share(user_id, conversation_id, share_id, created_at=1.0, title="t"):
    return Share(id=share_id, user_id=user_id, conversation_id=conversation_id, title=title, created_at=created_at)


async def test_shares_are_found_by_token_hash_listed_by_owner_and_revoked(stores, user):
    bob = await stores.users.create_user("bob", "h")
    conversation = await stores.conversations.create_conversation(user.id, "Plans", "m")
    messages = _shared("hello", "**world** ünïcode")
    assert await stores.shares.create_share(_share(user.id, conversation.id, "s1", 1.0, "Plans"), "hash-1", messages)
    assert await stores.shares.create_share(_share(user.id, conversation.id, "s2", 2.0), "hash-2", messages[:1])
    # Only the owner's own conversation can be shared.
    assert not await stores.shares.create_share(_share(bob.id, conversation.id, "s3"), "hash-3", messages)
    assert not await stores.shares.create_share(_share(user.id, "no-such", "s4"), "hash-4", messages)
    assert await stores.shares.get_snapshot("hash-3") is None

    snapshot = await stores.shares.get_snapshot("hash-1")
    assert (snapshot.title, snapshot.created_at) == ("Plans", 1.0)
    assert snapshot.messages == tuple(messages)
    assert [s.id for s in await stores.shares.list_shares(user.id)] == ["s2", "s1"]
    assert await stores.shares.list_shares(bob.id) == []

    assert not await stores.shares.delete_share(bob.id, "s1")  # not bob's
    assert await stores.shares.get_snapshot("hash-1") is not None
    assert await stores.shares.delete_share(user.id, "s1")
    assert not await stores.shares.delete_share(user.id, "s1")
    assert await stores.shares.get_snapshot("hash-1") is None
    assert [s.id for s in await stores.shares.list_shares(user.id)] == ["s2"]


async def test_a_large_snapshot_is_kept_whole(stores, user):
    conversation = await stores.conversations.create_conversation(user.id, "big", "m")
    big = "é" * 150_000 + "€" * 100_000  # well past one 400 KB DynamoDB item, multibyte across chunk edges
    messages = _shared(big, "end", big[::-1])
    assert await stores.shares.create_share(_share(user.id, conversation.id, "big"), "hash-big", messages)
    assert (await stores.shares.get_snapshot("hash-big")).messages == tuple(messages)
    assert await stores.shares.delete_share(user.id, "big")
    assert await stores.shares.get_snapshot("hash-big") is None


async def test_deleting_a_conversation_or_its_owner_deletes_its_shares(stores, user):
    kept = await stores.conversations.create_conversation(user.id, "kept", "m")
    gone = await stores.conversations.create_conversation(user.id, "gone", "m")
    await stores.shares.create_share(_share(user.id, kept.id, "k"), "hash-k", _shared("a"))
    await stores.shares.create_share(_share(user.id, gone.id, "g"), "hash-g", _shared("b" * 250_000))
    assert await stores.conversations.delete_conversation(user.id, gone.id)
    assert await stores.shares.get_snapshot("hash-g") is None
    assert [s.id for s in await stores.shares.list_shares(user.id)] == ["k"]
    assert await stores.users.delete_user(user.id)
    assert await stores.shares.get_snapshot("hash-k") is None
    assert await stores.shares.list_shares(user.id) == []
