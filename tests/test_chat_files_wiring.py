"""The pieces between attached files and a turn: file and citation parts in both stores, a prepared turn that
crosses processes with image references and citations (never image bytes), the WebSocket payload, and
embeddings (the fake upstream's deterministic /v1/embeddings, and Bedrock Titan with an injected client)."""

from __future__ import annotations

import io
import json

import pytest

from parley.config import Settings
from parley.core.chat.params import ChatParams
from parley.core.chat.request import PreparedChat
from parley.core.files.base import Citation, ExtractedDocument
from parley.core.providers.base import ChatMessage, GenerationParams, ImageInput
from parley.core.retrieval.embeddings import OpenAIEmbedder, build_embedder
from parley.core.retrieval.indexer import DocumentIndexer
from parley.core.retrieval.retriever import Retriever
from parley.core.store.base import MessageStatus
from parley.core.store.parts import CitationPart, FilePart, OpaquePart, TextPart, parts_from_json, parts_to_json
from parley.core.usage.meter import Reservation
from parley.errors import ConfigError, ProviderError
from parley.testing.fake_openai import FakeOpenAI, fake_embedding
from parley.ws_protocol import ProtocolError, SendPrompt, parse_client_message

FILE = FilePart("f" * 32, "report.pdf", "document", "application/pdf", 1234)
CITATION = CitationPart("f" * 32, "report.pdf", 3, "The third passage.", page=2)


async def test_file_and_citation_parts_are_kept_by_both_stores(stores):
    user = await stores.users.create_user("alice", "h")
    conversation = await stores.conversations.create_conversation(user.id, "t", "m")
    question = (TextPart("What does it say?"), FILE)
    asked = await stores.messages.append(
        user.id, conversation.id, parent_id=None, role="user", parts=question, status=MessageStatus.COMPLETE
    )
    answer = await stores.messages.append(
        user.id,
        conversation.id,
        parent_id=asked.id,
        role="assistant",
        parts=(CITATION,),
        status=MessageStatus.STREAMING,
    )
    await stores.messages.update(
        user.id, conversation.id, answer.id, parts=(TextPart("It says [1]."), CITATION), status=MessageStatus.COMPLETE
    )
    saved = await stores.messages.all_messages(user.id, conversation.id)
    assert [m.parts for m in saved] == [question, (TextPart("It says [1]."), CITATION)]
    assert [m.content for m in saved] == ["What does it say?", "It says [1]."]  # the text alone


def test_parts_json_round_trip_and_malformed_parts_stay_opaque():
    parts = (TextPart("hi"), FILE, CITATION, CitationPart("a", "b", 0, "c"))
    assert parts_from_json(parts_to_json(parts)) == parts
    odd = {"type": "file", "file_id": "x", "name": "n", "kind": "document", "media_type": "t", "size": "big"}
    assert parts_from_json(json.dumps([odd])) == (OpaquePart("file", odd),)


def test_a_prepared_turn_carries_image_references_and_citations_but_no_bytes():
    prepared = PreparedChat(
        user_id="u",
        msgid="m",
        conversation_id="c",
        title="t",
        user_message_id="um",
        message_id="am",
        model="seer",
        params=GenerationParams(0.7, 1.0, 100, 0.0, 0.0),
        context=(
            ChatMessage("system", "docs"),
            ChatMessage("user", "look", images=(ImageInput("img1", "image/png", b"secret bytes"),)),
        ),
        reservation=Reservation("u", "2026-12", 100),
        citations=(Citation("f1", "a.txt", 0, "passage", page=None),),
    )
    data = json.loads(json.dumps(prepared.to_dict()))
    assert "secret bytes" not in json.dumps(data)
    back = PreparedChat.from_dict(data)
    assert back.context[1].images == (ImageInput("img1", "image/png"),)
    assert back.citations == prepared.citations
    assert back.start_event().to_dict()["citations"] == [
        {"file_id": "f1", "file_name": "a.txt", "passage_index": 0, "text": "passage", "page": None}
    ]


def test_the_websocket_payload_takes_attachments():
    def send(payload):
        return parse_client_message(
            json.dumps({"action": "sendprompt", "payload": {"msgid": "m", "prompt": "p", **payload}})
        )

    message = send({"attachments": ["a", "b"]})
    assert isinstance(message, SendPrompt)
    assert message.request.attachments == ("a", "b")
    assert send({}).request.attachments == ()
    assert send({"attachments": None}).request.params == ChatParams()
    for bad in ("a", [1], [""], ["x" * 65], ["a"] * 11):
        with pytest.raises(ProtocolError, match="attachments"):
            send({"attachments": bad})


@pytest.fixture
async def fake():
    async with FakeOpenAI(api_key="sk-embed") as upstream:
        yield upstream


async def test_openai_compatible_embeddings_from_settings(fake):
    settings = Settings(embedding_model="fake-embed", openai_base_url=fake.base_url, openai_api_key="sk-embed")
    embedder = build_embedder(settings)
    assert isinstance(embedder, OpenAIEmbedder)
    try:
        texts = [f"text {n}" for n in range(OpenAIEmbedder.BATCH + 3)]
        vectors = await embedder.embed(texts)
    finally:
        await embedder.aclose()
    assert vectors == [pytest.approx(fake_embedding(t)) for t in texts]
    assert [len(r.body["input"]) for r in fake.embedding_requests] == [OpenAIEmbedder.BATCH, 3]  # batched
    assert fake.embedding_requests[0].authorization == "Bearer sk-embed"
    assert build_embedder(Settings()) is None  # off by default: keywords only, nothing to download
    with pytest.raises(ConfigError, match="nowhere"):
        build_embedder(Settings(embedding_model="m", embedding_provider="nowhere"))


async def test_a_failing_embedding_model_is_a_provider_error(fake):
    embedder = OpenAIEmbedder("no-such-model", fake.base_url, "sk-embed")
    try:
        with pytest.raises(ProviderError):
            await embedder.embed(["x"])
    finally:
        await embedder.aclose()


async def test_hybrid_retrieval_with_the_fake_embeddings(stores, fake):
    user = await stores.users.create_user("alice", "h")
    embedder = OpenAIEmbedder("fake-embed", fake.base_url, "sk-embed")
    paragraphs = [
        f"Chapter {n}. " + f"Ordinary words of chapter {n} fill this part of the book. " * 18 for n in range(6)
    ]
    paragraphs[4] = "Chapter 4. " + "Otters float on their backs and hold paws while they sleep. " * 16
    try:
        indexer = DocumentIndexer(stores.passages, embedder)
        count = await indexer.index(user.id, "book", ExtractedDocument("\n\n".join(paragraphs)))
        assert count == len(fake.embedding_requests[0].body["input"]) >= 6  # every passage embedded, at upload
        retriever = Retriever(stores.passages, embedder)
        hits = await retriever.search(user.id, ["book"], "Where do otters sleep?", 3)
    finally:
        await embedder.aclose()
    assert fake.embedding_requests[-1].body["input"] == ["Where do otters sleep?"]  # the query, once
    assert "Otters" in hits[0].passage.text
    assert hits[0].score == pytest.approx(2 / 61)  # first by keywords and by vector: fused


async def test_without_a_working_embedding_model_documents_are_still_indexed_for_keywords(stores):
    user = await stores.users.create_user("alice", "h")
    broken = OpenAIEmbedder("fake-embed", "http://127.0.0.1:9/v1", None, timeout=1)
    try:
        count = await DocumentIndexer(stores.passages, broken).index(user.id, "d", ExtractedDocument("Kept anyway."))
        hits = await Retriever(stores.passages, broken).search(user.id, ["d"], "kept", 5)
    finally:
        await broken.aclose()
    assert count == 1
    assert [hit.passage.text for hit in hits] == ["Kept anyway."]


class FakeBedrock:
    def __init__(self):
        self.calls = []

    def invoke_model(self, **kwargs):
        self.calls.append(kwargs)
        text = json.loads(kwargs["body"])["inputText"]
        return {"body": io.BytesIO(json.dumps({"embedding": fake_embedding(text)}).encode())}


async def test_bedrock_titan_embeds_one_text_a_call():
    from parley.aws.bedrock_embeddings import TitanEmbedder

    client = FakeBedrock()
    embedder = TitanEmbedder(client, "amazon.titan-embed-text-v2:0")
    vectors = await embedder.embed(["one", "two"])
    assert vectors == [pytest.approx(fake_embedding("one")), pytest.approx(fake_embedding("two"))]
    assert {c["modelId"] for c in client.calls} == {"amazon.titan-embed-text-v2:0"}
    assert sorted(json.loads(c["body"])["inputText"] for c in client.calls) == ["one", "two"]
    assert json.loads(client.calls[0]["body"])["normalize"] is True
