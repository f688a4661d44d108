"""The chat core: context, saving as it goes, stop, failures, retries."""

from __future__ import annotations

import asyncio
import time

import pytest

from parley.core.chat.params import ChatParams
from parley.core.chat.service import ChatLimits, ChatRequest, ChatService
from parley.core.chat.upstream import UpstreamPolicy
from parley.core.store.base import MessageStatus, Registration
from parley.core.store.parts import text_parts
from parley.core.usage.meter import UsageMeter
from parley.errors import (
    AnswerAbandoned,
    InvalidInput,
    NotFound,
    ProviderRateLimited,
    ProviderUnavailable,
    StreamInterrupted,
)
from parley.runtime import build_chat
from parley.testing.mock_provider import Reply
from tests.conftest import PASSWORD


@pytest.fixture
async def user(runtime):
    return await runtime.auth.create_user("alice", PASSWORD)


async def collect(generation):
    return [event async for event in generation.events()]


async def messages_of(runtime, user, conversation_id):
    """The conversation's current branch, as saved."""
    return await runtime.stores.messages.path(user.id, conversation_id)


async def test_events_arrive_in_order_and_the_answer_is_saved(runtime, provider, user):
    provider.enqueue(Reply(tokens=["Hel", "lo", "!"]))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="Hi there", msgid="m1")))
    assert [e.type for e in events] == ["start", "delta", "delta", "delta", "done"]
    assert [e.seq for e in events[1:4]] == [3, 5, 6]  # the answer's length in characters after each delta
    assert events[-1].usage == {"prompt_tokens": len("Hi there"), "completion_tokens": 3}
    saved = await messages_of(runtime, user, events[0].conversation_id)
    assert [(m.role, m.content, m.status) for m in saved] == [
        ("user", "Hi there", MessageStatus.COMPLETE),
        ("assistant", "Hello!", MessageStatus.COMPLETE),
    ]
    assert saved[1].completion_tokens == 3
    conversation = await runtime.stores.conversations.get_conversation(user.id, events[0].conversation_id)
    assert conversation.title == "Hi there"


async def test_every_param_reaches_the_provider(runtime, provider, user):
    params = ChatParams(
        temperature=0.2,
        top_p=0.9,
        max_tokens=77,
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        system_prompt="Be brief.",
    )
    await collect(await runtime.chat.start(user, ChatRequest(prompt="Hi", params=params)))
    call = provider.history[-1]
    assert call.params.temperature == 0.2
    assert call.params.top_p == 0.9
    assert call.params.max_tokens == 77
    assert call.params.frequency_penalty == 0.5
    assert call.params.presence_penalty == -0.5
    assert call.messages[0].role == "system" and call.messages[0].content == "Be brief."


async def test_out_of_range_params_are_refused_before_anything_is_saved(runtime, user):
    with pytest.raises(InvalidInput, match="temperature"):
        await runtime.chat.start(user, ChatRequest(prompt="Hi", params=ChatParams(temperature=9)))
    page = await runtime.stores.conversations.list_conversations(user.id, 10, None)
    assert page.items == []


async def test_history_is_sent_back_within_the_budget(runtime, provider, user):
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="first question")))
    conversation_id = first[0].conversation_id
    await collect(await runtime.chat.start(user, ChatRequest(prompt="second", conversation_id=conversation_id)))
    roles = [(m.role, m.content) for m in provider.history[-1].messages]
    assert roles == [("user", "first question"), ("assistant", "Hello there!"), ("user", "second")]


async def test_context_drops_the_oldest_turns_when_over_budget(runtime, provider, user):
    from parley.core.chat.context import build_context
    from parley.core.store.base import Message

    history = [
        Message(
            str(i), "c", i, "user" if i % 2 == 0 else "assistant", text_parts("x" * 300), MessageStatus.COMPLETE, 0, 0
        )
        for i in range(10)
    ]
    context = build_context("sys", history, "now", budget_tokens=400)
    assert context[0].content == "sys" and context[-1].content == "now"
    assert 1 < len(context) - 2 < 10
    assert context[1].role == "user"  # turns after the system prompt start with the user


async def test_a_prompt_larger_than_the_context_is_refused(runtime, user):
    with pytest.raises(InvalidInput, match="context"):
        await runtime.chat.start(user, ChatRequest(prompt="word " * 5000))


async def test_stop_keeps_what_was_generated(runtime, provider, user):
    provider.enqueue(Reply(tokens=[f"t{i} " for i in range(200)], delay=0.01))
    generation = await runtime.chat.start(user, ChatRequest(prompt="long please", msgid="s1"))
    events = []
    async for event in generation.events():
        events.append(event)
        if event.type == "delta" and event.seq == 3:
            assert runtime.chat.stop(user.id, "s1")
    assert events[-1].type == "done" and events[-1].finish_reason == "stopped"
    saved = (await messages_of(runtime, user, events[0].conversation_id))[-1]
    assert saved.status == MessageStatus.STOPPED
    deltas = "".join(e.text for e in events if e.type == "delta")
    assert saved.content == deltas and len(deltas) > 0
    assert provider.closed_streams == 1


async def test_stop_of_another_users_generation_does_nothing(runtime, provider, user):
    other = await runtime.auth.create_user("bob", PASSWORD)
    provider.enqueue(Reply(tokens=["a"] * 20, delay=0.01))
    generation = await runtime.chat.start(user, ChatRequest(prompt="hi", msgid="mine"))
    assert runtime.chat.stop(other.id, "mine") is False
    events = await collect(generation)
    assert events[-1].finish_reason == "stop"


async def test_client_going_away_does_not_lose_the_answer(runtime, provider, user):
    provider.enqueue(Reply(tokens=["a", "b", "c", "d"], delay=0.02))
    generation = await runtime.chat.start(user, ChatRequest(prompt="hi"))
    first = await anext(generation.events())
    generation.detach()
    await generation.wait()
    saved = (await messages_of(runtime, user, first.conversation_id))[-1]
    assert (saved.content, saved.status) == ("abcd", MessageStatus.COMPLETE)


async def test_partial_answer_is_saved_while_streaming(runtime, provider, user):
    provider.enqueue(Reply(tokens=["a"] * 30, delay=0.02))
    generation = await runtime.chat.start(user, ChatRequest(prompt="hi"))
    start = await anext(generation.events())
    await asyncio.sleep(0.3)
    saved = (await messages_of(runtime, user, start.conversation_id))[-1]
    assert saved.status == MessageStatus.STREAMING
    assert 0 < len(saved.content) < 30
    await generation.wait()


async def test_provider_failure_mid_answer_saves_it_as_interrupted(runtime, provider, user):
    provider.enqueue(Reply(tokens=["one ", "two ", "three"], error=StreamInterrupted(), error_after=2))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi")))
    assert [e.type for e in events] == ["start", "delta", "delta", "error"]
    assert events[-1].code == "stream_interrupted"
    saved = await messages_of(runtime, user, events[0].conversation_id)
    assert saved[0].content == "hi"
    assert (saved[1].content, saved[1].status) == ("one two ", MessageStatus.INTERRUPTED)


async def test_failure_before_any_token_is_retried_then_reported(runtime, provider, user, settings):
    for _ in range(settings.provider_retries + 1):
        provider.enqueue(Reply(error=ProviderUnavailable(), error_after=0))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi")))
    assert len(provider.history) == settings.provider_retries + 1
    assert events[-1].type == "error" and events[-1].code == "provider_unavailable"
    saved = await messages_of(runtime, user, events[0].conversation_id)
    assert saved[0].content == "hi"  # the user's message is kept
    assert saved[1].status == MessageStatus.ERROR


async def test_rate_limit_then_success_is_retried(runtime, provider, user):
    provider.enqueue(Reply(error=ProviderRateLimited(retry_after=0.01), error_after=0), Reply(tokens=["ok"]))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi")))
    assert events[-1].type == "done"
    assert len(provider.history) == 2


async def test_nothing_is_retried_after_the_first_token(runtime, provider, user):
    provider.enqueue(Reply(tokens=["a", "b"], error=ProviderUnavailable(), error_after=1))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi")))
    assert events[-1].type == "error"
    assert len(provider.history) == 1


async def test_a_hanging_provider_times_out_and_keeps_the_partial(runtime, provider, user):
    runtime.chat._policy = type(runtime.chat._policy)(retries=0, base_delay=0, first_chunk_timeout=1, idle_timeout=0.2)
    provider.enqueue(Reply(tokens=["a", "b", "c"], hang_after=2))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi")))
    assert events[-1].type == "error" and events[-1].code == "provider_timeout"
    saved = (await messages_of(runtime, user, events[0].conversation_id))[-1]
    assert (saved.content, saved.status) == ("ab", MessageStatus.INTERRUPTED)


async def test_another_users_conversation_is_not_found(runtime, user):
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi")))
    other = await runtime.auth.create_user("bob", PASSWORD)
    with pytest.raises(NotFound):
        await runtime.chat.start(other, ChatRequest(prompt="hi", conversation_id=first[0].conversation_id))


async def test_empty_and_oversized_prompts_are_refused(runtime, user, settings):
    with pytest.raises(InvalidInput):
        await runtime.chat.start(user, ChatRequest(prompt="   "))
    with pytest.raises(InvalidInput):
        await runtime.chat.start(user, ChatRequest(prompt="x" * (settings.max_prompt_chars + 1)))


async def test_unknown_model_is_refused(runtime, user):
    from parley.errors import UnknownModel

    with pytest.raises(UnknownModel):
        await runtime.chat.start(user, ChatRequest(prompt="hi", params=ChatParams(model="nope")))


async def everything_in(runtime, user, conversation_id):
    """Every message of every branch, in creation order."""
    return await runtime.stores.messages.all_messages(user.id, conversation_id)


async def test_edit_adds_a_branch_beside_the_message_and_deletes_nothing(runtime, provider, user):
    provider.enqueue(Reply(tokens=["one!"]), Reply(tokens=["two!"]), Reply(tokens=["edited!"]))
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="one")))
    conversation_id = first[0].conversation_id
    second = await collect(await runtime.chat.start(user, ChatRequest(prompt="two", conversation_id=conversation_id)))
    edited = await collect(
        await runtime.chat.start(
            user,
            ChatRequest(
                prompt="two, edited", conversation_id=conversation_id, edit_message_id=second[0].user_message_id
            ),
        )
    )
    assert edited[-1].type == "done"
    branch = await runtime.chat.history(user.id, conversation_id)
    assert [(m.role, m.content) for m in branch.messages] == [
        ("user", "one"),
        ("assistant", "one!"),
        ("user", "two, edited"),
        ("assistant", "edited!"),
    ]
    # The edited question and its answer are still there, beside the new ones.
    assert [m.content for m in await everything_in(runtime, user, conversation_id)] == [
        "one",
        "one!",
        "two",
        "two!",
        "two, edited",
        "edited!",
    ]
    new_question = branch.messages[2]
    assert new_question.parent_id == first[0].message_id
    assert branch.sibling_ids[new_question.id] == (second[0].user_message_id, new_question.id)
    assert branch.sibling_ids[branch.messages[3].id] == (branch.messages[3].id,)
    # The model saw the branch before the edited message, not the replaced turn.
    assert [m.content for m in provider.history[-1].messages] == ["one", "one!", "two, edited"]


async def test_regenerate_is_an_edit_with_the_same_text_and_adds_an_answer_beside_the_first(runtime, provider, user):
    provider.enqueue(Reply(tokens=["first answer"]), Reply(tokens=["second answer"]))
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="q")))
    conversation_id = first[0].conversation_id
    again = await collect(
        await runtime.chat.start(
            user, ChatRequest(prompt="q", conversation_id=conversation_id, edit_message_id=first[0].user_message_id)
        )
    )
    assert again[0].user_message_id == first[0].user_message_id  # the same question, answered again
    assert [m.content for m in await messages_of(runtime, user, conversation_id)] == ["q", "second answer"]
    everything = await everything_in(runtime, user, conversation_id)
    assert [(m.content, m.parent_id) for m in everything] == [
        ("q", None),
        ("first answer", first[0].user_message_id),
        ("second answer", first[0].user_message_id),
    ]
    assert [m.content for m in provider.history[-1].messages] == ["q"]
    branch = await runtime.chat.history(user.id, conversation_id)
    assert branch.sibling_ids[again[0].message_id] == (first[0].message_id, again[0].message_id)
    # Each answer remembers the request that asked for it and what it was asked with.
    assert everything[2].client_msgid == again[0].msgid
    assert everything[2].params["model"] == "mock-model" and "temperature" in everything[2].params


async def test_a_new_message_continues_the_branch_switched_to(runtime, provider, user):
    provider.enqueue(*[Reply(tokens=[f"answer {i}"]) for i in range(5)])
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="q1")))
    conversation_id = first[0].conversation_id
    second = await collect(await runtime.chat.start(user, ChatRequest(prompt="q2", conversation_id=conversation_id)))
    await collect(
        await runtime.chat.start(
            user,
            ChatRequest(prompt="q2 edited", conversation_id=conversation_id, edit_message_id=second[0].user_message_id),
        )
    )
    switched = await runtime.chat.switch_branch(user.id, conversation_id, second[0].user_message_id)
    assert [m.content for m in switched.messages] == ["q1", "answer 0", "q2", "answer 1"]
    assert [m.content for m in (await runtime.chat.history(user.id, conversation_id)).messages] == [
        "q1",
        "answer 0",
        "q2",
        "answer 1",
    ]  # the choice is kept
    third = await collect(await runtime.chat.start(user, ChatRequest(prompt="q3", conversation_id=conversation_id)))
    assert [m.content for m in provider.history[-1].messages] == ["q1", "answer 0", "q2", "answer 1", "q3"]
    question = next(m for m in await everything_in(runtime, user, conversation_id) if m.content == "q3")
    assert question.parent_id == second[0].message_id
    assert third[0].user_message_id == question.id


async def test_switching_to_a_message_lands_on_the_newest_leaf_below_it(runtime, provider, user):
    provider.enqueue(*[Reply(tokens=[f"answer {i}"]) for i in range(4)])
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="q1")))
    conversation_id = first[0].conversation_id
    older = await collect(await runtime.chat.start(user, ChatRequest(prompt="older", conversation_id=conversation_id)))
    newer = await collect(
        await runtime.chat.start(
            user,
            ChatRequest(prompt="newer", conversation_id=conversation_id, edit_message_id=older[0].user_message_id),
        )
    )
    back = await runtime.chat.switch_branch(user.id, conversation_id, older[0].message_id)
    assert back.leaf_id == older[0].message_id
    # From the first question down, the branch last added to is the newer one.
    landed = await runtime.chat.switch_branch(user.id, conversation_id, first[0].user_message_id)
    assert landed.leaf_id == newer[0].message_id
    assert [m.content for m in landed.messages] == ["q1", "answer 0", "newer", "answer 2"]
    assert landed.sibling_ids[newer[0].user_message_id] == (older[0].user_message_id, newer[0].user_message_id)
    other = await runtime.auth.create_user("bob", PASSWORD)
    assert await runtime.chat.switch_branch(other.id, conversation_id, first[0].message_id) is None
    assert await runtime.chat.switch_branch(user.id, conversation_id, "no-such-message") is None
    after = await runtime.chat.history(user.id, conversation_id)
    assert after.leaf_id == newer[0].message_id  # a refused switch moved nothing


async def test_edit_refuses_other_users_and_assistant_messages_without_losing_anything(runtime, user):
    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="mine")))
    conversation_id = first[0].conversation_id
    with pytest.raises(NotFound):
        await runtime.chat.start(
            user, ChatRequest(prompt="x", conversation_id=conversation_id, edit_message_id=first[0].message_id)
        )
    other = await runtime.auth.create_user("bob", PASSWORD)
    with pytest.raises(NotFound):
        await runtime.chat.start(
            other, ChatRequest(prompt="x", conversation_id=conversation_id, edit_message_id=first[0].user_message_id)
        )
    with pytest.raises(InvalidInput):  # too long for the context: refused before the old turn is deleted
        await runtime.chat.start(
            user,
            ChatRequest(prompt="w " * 20000, conversation_id=conversation_id, edit_message_id=first[0].user_message_id),
        )
    assert len(await everything_in(runtime, user, conversation_id)) == 2


async def test_edit_waits_for_a_running_answer(runtime, provider, user):
    provider.enqueue(Reply(tokens=["a"] * 50, delay=0.01))
    generation = await runtime.chat.start(user, ChatRequest(prompt="q", msgid="running"))
    start = await anext(generation.events())
    with pytest.raises(InvalidInput, match="Wait"):
        await runtime.chat.start(
            user, ChatRequest(prompt="q2", conversation_id=start.conversation_id, edit_message_id=start.user_message_id)
        )
    runtime.chat.stop(user.id, "running")
    await generation.wait()


async def test_the_same_msgid_twice_is_answered_once(runtime, provider, user):
    from parley.errors import DuplicateRequest

    first = await collect(await runtime.chat.start(user, ChatRequest(prompt="hi", msgid="dup")))
    with pytest.raises(DuplicateRequest):
        await runtime.chat.start(user, ChatRequest(prompt="hi", msgid="dup", conversation_id=first[0].conversation_id))
    assert len(provider.history) == 1
    messages = await messages_of(runtime, user, first[0].conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    other = await runtime.auth.create_user("bob", PASSWORD)
    await collect(await runtime.chat.start(other, ChatRequest(prompt="hi", msgid="dup")))  # msgids are per user


async def test_a_user_has_a_cap_on_simultaneous_answers(runtime, provider, user, settings):
    from parley.errors import TooManyGenerations

    cap = runtime.chat._limits.max_generations_per_user
    provider.enqueue(*[Reply(tokens=["a"] * 100, delay=0.01) for _ in range(cap)])
    running = [await runtime.chat.start(user, ChatRequest(prompt="hi", msgid=f"g{i}")) for i in range(cap)]
    with pytest.raises(TooManyGenerations):
        await runtime.chat.start(user, ChatRequest(prompt="one more", msgid="over"))
    other = await runtime.auth.create_user("bob", PASSWORD)
    await collect(await runtime.chat.start(other, ChatRequest(prompt="hi")))  # others are not affected
    for i, generation in enumerate(running):
        runtime.chat.stop(user.id, f"g{i}")
        await generation.wait()
    await collect(await runtime.chat.start(user, ChatRequest(prompt="now fine", msgid="after")))


async def test_answers_started_at_the_same_moment_still_respect_the_cap(runtime, provider, user):
    from parley.errors import TooManyGenerations

    cap = runtime.chat._limits.max_generations_per_user
    provider.enqueue(*[Reply(tokens=["a"] * 100, delay=0.01) for _ in range(cap)])
    attempts = [runtime.chat.start(user, ChatRequest(prompt="hi", msgid=f"at-once{i}")) for i in range(cap + 1)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    running = [result for result in results if not isinstance(result, BaseException)]
    assert len(running) == cap
    assert [type(result) for result in results if isinstance(result, BaseException)] == [TooManyGenerations]
    listing = await runtime.stores.conversations.list_conversations(user.id, 10, None)
    assert len(listing.items) == cap  # the refused one wrote nothing
    for generation in running:
        runtime.chat.stop(user.id, generation.msgid)
        await generation.wait()


async def test_an_answer_whose_message_cannot_be_saved_frees_its_slot(runtime, provider, user, monkeypatch):
    async def conversation_gone(*args, **kwargs):
        return None  # deleted between the checks and the write

    with monkeypatch.context() as patched:
        patched.setattr(runtime.stores.messages, "append", conversation_gone)
        with pytest.raises(NotFound):
            await runtime.chat.start(user, ChatRequest(prompt="hi", msgid="lost"))
    now = time.time()
    registration = await runtime.stores.stop_signals.register_generation(
        user.id, "next", now + 60, max_running=1, lease_until=now + 60
    )
    assert registration is Registration.STARTED  # the one slot is free again


def chat_of_a_later_process(runtime, settings, seconds: float):
    """The chat service of a process running ``seconds`` from now; the one that started the answer is gone."""
    return build_chat(settings, runtime.stores, runtime.models, wall_clock=lambda: time.time() + seconds)


async def test_an_answer_whose_process_died_is_settled_as_interrupted_once_overdue(runtime, settings, user):
    # A process that saved part of an answer and died: prepared (the slot taken, the answer saved as
    # streaming), a partial save, then nothing more.
    prepared = await runtime.chat.prepare(user, ChatRequest(prompt="tell me everything", msgid="dies"))
    await runtime.stores.messages.update(
        user.id,
        prepared.conversation_id,
        prepared.message_id,
        parts=text_parts("Half an ans"),
        status=MessageStatus.STREAMING,
    )
    bound = runtime.chat.abandoned_after
    assert bound > ChatLimits().heartbeat_seconds  # a live answer has been saved by then, tokens or not

    on_time = chat_of_a_later_process(runtime, settings, bound - 1)
    answer = (await on_time.history(user.id, prepared.conversation_id)).messages[-1]
    assert answer.status == MessageStatus.STREAMING  # it could still be running somewhere

    overdue = chat_of_a_later_process(runtime, settings, bound + 1)
    user_message, answer = (await overdue.history(user.id, prepared.conversation_id)).messages
    assert (user_message.content, user_message.status) == ("tell me everything", MessageStatus.COMPLETE)
    interrupted = ("Half an ans", MessageStatus.INTERRUPTED, AnswerAbandoned.code)
    assert (answer.content, answer.status, answer.finish_reason) == interrupted
    # Saved so: every later reader, on any path, sees the same.
    saved = (await messages_of(runtime, user, prepared.conversation_id))[-1]
    assert (saved.content, saved.status, saved.finish_reason) == interrupted


async def test_an_abandoned_answer_with_no_text_is_an_error(runtime, settings, user):
    prepared = await runtime.chat.prepare(user, ChatRequest(prompt="hello?", msgid="dies-early"))
    overdue = chat_of_a_later_process(runtime, settings, runtime.chat.abandoned_after + 1)
    answer = (await overdue.history(user.id, prepared.conversation_id)).messages[-1]
    assert (answer.content, answer.status, answer.finish_reason) == ("", MessageStatus.ERROR, AnswerAbandoned.code)


async def test_a_conversation_whose_answer_was_abandoned_can_be_edited_again(runtime, settings, provider, user):
    prepared = await runtime.chat.prepare(user, ChatRequest(prompt="first try", msgid="lost"))
    again = ChatRequest(
        prompt="second try", conversation_id=prepared.conversation_id, edit_message_id=prepared.user_message_id
    )
    with pytest.raises(InvalidInput, match="Wait"):  # for all anyone knows, it is still running
        await runtime.chat.start(user, again)

    overdue = chat_of_a_later_process(runtime, settings, runtime.chat.abandoned_after + 1)
    events = await collect(await overdue.start(user, again))
    assert events[-1].type == "done"
    saved = await messages_of(runtime, user, prepared.conversation_id)
    assert [(m.role, m.content, m.status) for m in saved] == [
        ("user", "second try", MessageStatus.COMPLETE),
        ("assistant", "Hello there!", MessageStatus.COMPLETE),
    ]


async def test_another_users_history_is_not_found(runtime, user):
    prepared = await runtime.chat.prepare(user, ChatRequest(prompt="mine", msgid="private"))
    mallory = await runtime.auth.create_user("mallory", PASSWORD)
    assert await runtime.chat.history(mallory.id, prepared.conversation_id) is None


async def test_an_answer_waiting_for_the_model_is_kept_saved_and_never_taken_for_abandoned(runtime, provider, user):
    # Waiting for a first token can take minutes. The heartbeat saves the answer meanwhile, so no reader takes a
    # slow answer for a dead one; and no late heartbeat lands after the final save.
    limits = ChatLimits(save_interval_seconds=0.05, heartbeat_seconds=0.05, abandoned_margin_seconds=0.1)
    policy = UpstreamPolicy(retries=0, first_chunk_timeout=5, idle_timeout=5)
    chat = ChatService(
        runtime.stores.conversations,
        runtime.stores.messages,
        runtime.stores.stop_signals,
        runtime.models,
        limits=limits,
        policy=policy,
        meter=UsageMeter(runtime.stores.usage),
    )
    assert chat.abandoned_after < 0.5
    provider.enqueue(Reply(tokens=["worth ", "the wait"], delay=0.6))  # silence for 0.6 s before each token
    generation = await chat.start(user, ChatRequest(prompt="a slow one", msgid="slow"))
    start = await anext(generation.events())
    for _ in range(10):
        await asyncio.sleep(0.1)
        answer = (await chat.history(user.id, start.conversation_id)).messages[-1]
        assert answer.status == MessageStatus.STREAMING
    await generation.wait()
    await asyncio.sleep(0.2)  # longer than a heartbeat
    answer = (await chat.history(user.id, start.conversation_id)).messages[-1]
    assert (answer.content, answer.status) == ("worth the wait", MessageStatus.COMPLETE)


async def test_a_reader_rejoins_a_running_answer_from_where_it_was(runtime, provider, user):
    tokens = [f"t{i}é " for i in range(40)]
    provider.enqueue(Reply(tokens=tokens, delay=0.005))
    generation = await runtime.chat.start(user, ChatRequest(prompt="long", msgid="rj"))
    first = generation.events()
    start = await anext(first)
    have = ""
    while len(have) < 20:
        have += (await anext(first)).text
    generation.detach()  # the first reader goes (a reload)
    joined = await runtime.chat.resume(user.id, start.conversation_id, "rj", len(have))
    events = [event async for event in joined.events()]
    assert events[-1].type == "done"
    deltas = [e for e in events if e.type == "delta"]
    assert deltas[0].seq - len(deltas[0].text) == len(have)
    assert have + "".join(d.text for d in deltas) == "".join(tokens)


async def test_a_resume_after_the_end_is_the_saved_answer_and_how_it_ended(runtime, provider, user):
    from parley.core.chat.resume import SavedAnswer

    provider.enqueue(Reply(tokens=["ab", "cd"]))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="q", msgid="ended")))
    conversation_id = events[0].conversation_id
    saved = await runtime.chat.resume(user.id, conversation_id, "ended", 1)
    assert isinstance(saved, SavedAnswer) and saved.ended
    assert [e.to_dict() for e in saved.events] == [
        {"type": "delta", "msgid": "ended", "seq": 4, "text": "bcd"},
        events[-1].to_dict(),
    ]
    other = await runtime.auth.create_user("bob", PASSWORD)
    with pytest.raises(NotFound):
        await runtime.chat.resume(other.id, conversation_id, "ended", 0)
    with pytest.raises(NotFound):
        await runtime.chat.resume(user.id, conversation_id, "never-sent", 0)


async def test_the_model_is_asked_while_the_turn_is_being_saved(runtime, provider, user, monkeypatch):
    """The model starts on the prompt once nothing can refuse it; saving the turn does not hold up its first
    token (the answer is launched, with what the model sent meanwhile, once the turn is saved)."""
    messages = runtime.chat._turns._messages
    append, saving = messages.append, asyncio.Event()
    asked_while_saving: list[bool] = []

    async def slow_append(*args, **kwargs):
        asked_while_saving.append(len(provider.history) == 1)
        saving.set()
        await asyncio.sleep(0.05)
        return await append(*args, **kwargs)

    monkeypatch.setattr(messages, "append", slow_append)
    provider.enqueue(Reply(tokens=["Hel", "lo"]))
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="Hi")))
    assert asked_while_saving == [True, True]  # the user's message and the empty answer
    assert "".join(e.text for e in events if e.type == "delta") == "Hello"
    saved = await messages_of(runtime, user, events[0].conversation_id)
    assert [(m.role, m.content) for m in saved] == [("user", "Hi"), ("assistant", "Hello")]


async def test_a_turn_that_cannot_be_saved_hangs_up_on_the_model_it_asked(runtime, provider, user, monkeypatch):
    messages = runtime.chat._turns._messages
    append = messages.append

    async def failing_append(*args, **kwargs):
        if kwargs["role"] == "assistant":
            await asyncio.sleep(0.05)  # the model has started meanwhile
            raise OSError("disk full")
        return await append(*args, **kwargs)

    monkeypatch.setattr(messages, "append", failing_append)
    provider.enqueue(Reply(tokens=["tick"] * 1000, delay=0.01))
    with pytest.raises(OSError):
        await runtime.chat.start(user, ChatRequest(prompt="Hi"))
    assert len(provider.history) == 1
    await asyncio.sleep(0.05)
    assert provider.closed_streams == 1  # the model's stream was closed, not left running
    monkeypatch.setattr(messages, "append", append)
    provider.enqueue(Reply(tokens=["ok"]))  # the slot and the reservation were given back: the next turn runs
    events = await collect(await runtime.chat.start(user, ChatRequest(prompt="again")))
    assert events[-1].type == "done"
