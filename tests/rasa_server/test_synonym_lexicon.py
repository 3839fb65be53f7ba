"""SynonymLexiconExtractor: service words looked up in service requests, DIET's kept elsewhere."""

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.synonym_lexicon import SynonymLexiconExtractor
from bot.nlu.tokenizer import BilingualTokenizer

SYNONYMS = {"维修": "repair", "修": "repair", "fix": "repair", "换": "replacement"}
SYNONYMS |= {"set up": "installation", "安装": "installation", "洗衣机": "washing_machine"}


def annotated(text: str, *spans: tuple[str, str]) -> Message:
    entities = []
    for entity, word in spans:
        start = text.index(word)
        entities.append({"entity": entity, "start": start, "end": start + len(word), "value": word})
    return Message(data={"text": text, "intent": "request_service", "entities": entities})


TRAINING = TrainingData(
    [
        annotated("洗衣机要维修", ("product", "洗衣机"), ("service_type", "维修")),
        annotated("please set up my tv", ("service_type", "set up")),
        annotated("换一台", ("service_type", "换")),
    ],
    entity_synonyms=SYNONYMS,
)


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


@pytest.fixture
def tokenizer(storage) -> BilingualTokenizer:
    return BilingualTokenizer.create(
        BilingualTokenizer.get_default_config(), storage, Resource("tok"), ExecutionContext(None)
    )


def extractor(storage, make=SynonymLexiconExtractor.create) -> SynonymLexiconExtractor:
    config = SynonymLexiconExtractor.get_default_config()
    return make(config, storage, Resource("lexicon"), ExecutionContext(None))


@pytest.fixture
def trained(storage) -> SynonymLexiconExtractor:
    component = extractor(storage)
    component.train(TRAINING)
    return component


def parse(tokenizer, component, text, intent="request_service", entities=()) -> list[dict]:
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}})
    message.set("entities", list(entities))
    tokenizer.process([message])
    component.process([message])
    return [(e["entity"], text[e["start"] : e["end"]], e["value"]) for e in message.get("entities")]


def test_the_lexicon_is_the_service_words_only(trained):
    assert trained.lexicon == {
        "维修": "repair",
        "修": "repair",
        "fix": "repair",
        "repair": "repair",
        "换": "replacement",
        "replacement": "replacement",
        "set up": "installation",
        "安装": "installation",
        "installation": "installation",
    }  # fmt: skip  (洗衣机 is a product synonym: not a service_type value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("找人来修洗碗机", [("service_type", "修", "repair")]),  # a one-character service word
        ("Please FIX the dryer", [("service_type", "FIX", "repair")]),
        ("can you set   up the heater", [("service_type", "set   up", "installation")]),
        ("ｆｉｘ it", [("service_type", "ｆｉｘ", "repair")]),  # full-width
        ("我要修改地址", []),  # 修 inside the word 修改 is not the service
    ],
)
def test_service_words_are_found_on_whole_tokens(tokenizer, trained, text, expected):
    assert parse(tokenizer, trained, text) == expected


def test_the_lexicon_replaces_what_diet_tagged(tokenizer, trained):
    diet = [
        {"entity": "service_type", "start": 0, "end": 4, "value": "找人来修"},  # a bad span
        {"entity": "product", "start": 4, "end": 7, "value": "dishwasher"},
    ]
    assert parse(tokenizer, trained, "找人来修洗碗机", entities=diet) == [
        ("product", "洗碗机", "dishwasher"),
        ("service_type", "修", "repair"),
    ]


def test_among_several_service_words_diet_chooses(tokenizer, trained):
    text = "修不好就换一台吧"
    diet = [{"entity": "service_type", "start": 4, "end": 5, "value": "replacement"}]
    assert parse(tokenizer, trained, text, entities=diet) == [("service_type", "换", "replacement")]
    assert parse(tokenizer, trained, text) == [
        ("service_type", "修", "repair"),
        ("service_type", "换", "replacement"),
    ]


def test_other_intents_have_no_service_type(tokenizer, trained):
    diet = [{"entity": "service_type", "start": 0, "end": 2, "value": "repair"}]
    assert parse(tokenizer, trained, "维修进度", intent="check_status", entities=diet) == []
    assert parse(tokenizer, trained, "维修师傅态度太差", intent="file_complaint") == []
    assert parse(tokenizer, trained, "维修", intent="inform") == [
        ("service_type", "维修", "repair")
    ]


def test_the_lexicon_travels_with_the_model(storage, tokenizer, trained):
    loaded = extractor(storage, SynonymLexiconExtractor.load)
    assert loaded.lexicon == trained.lexicon
    assert parse(tokenizer, loaded, "换一个新的") == [("service_type", "换", "replacement")]


def test_data_without_the_entity_trains_an_empty_lexicon(storage, tokenizer):
    component = extractor(storage)
    component.train(TrainingData([Message(data={"text": "你好", "intent": "greet"})]))
    assert component.lexicon == {}
    assert parse(tokenizer, component, "我要维修") == []
