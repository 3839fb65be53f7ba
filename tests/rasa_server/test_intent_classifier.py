"""LinearIntentClassifier: a TF-IDF linear SVM, trained and loaded through Rasa."""

from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.intent_classifier import LinearIntentClassifier
from bot.nlu.tokenizer import BilingualTokenizer

EXAMPLES = {
    "greet": ["你好", "您好啊", "hello", "hi there"],
    "request_service": ["空调要维修", "我要报修洗衣机", "please repair my washer", "fix my tv"],
    "check_status": ["查一下进度", "我的工单到哪了", "status of my ticket", "where is my case"],
}


class Pipeline:
    """Tokenizer → word counts → the classifier, as config.yml chains them."""

    def __init__(self, storage: LocalModelStorage) -> None:
        context = ExecutionContext(None)
        self.tokenizer = BilingualTokenizer.create(
            BilingualTokenizer.get_default_config(), storage, Resource("tok"), context
        )
        words = CountVectorsFeaturizer.get_default_config()
        chars = {**words, "analyzer": "char", "max_ngram": 3}
        self.featurizers = [
            CountVectorsFeaturizer.create(words, storage, Resource("words"), context),
            CountVectorsFeaturizer.create(chars, storage, Resource("chars"), context),
        ]
        self.storage, self.context = storage, context

    def train(
        self, examples: dict[str, list[str]] = EXAMPLES, **options: Any
    ) -> LinearIntentClassifier:
        data = TrainingData(
            [
                Message(data={"text": text, "intent": intent})
                for intent, texts in examples.items()
                for text in texts
            ]
        )
        return self.train_on(data, **options)

    def train_on(self, data: TrainingData, **options: Any) -> LinearIntentClassifier:
        """Tokenize and featurize `data`, then train the classifier on it."""
        self.tokenizer.process_training_data(data)
        for featurizer in self.featurizers:
            featurizer.train(data)
            featurizer.process_training_data(data)
        classifier = self.classifier(LinearIntentClassifier.create, **options)
        classifier.train(data)
        return classifier

    def classifier(self, make, **options: Any) -> LinearIntentClassifier:
        config = {**LinearIntentClassifier.get_default_config(), "C": 2.0, **options}
        return make(config, self.storage, Resource("intent"), self.context)

    def parse(self, classifier: LinearIntentClassifier, text: str) -> Message:
        message = Message(data={"text": text})
        self.tokenizer.process([message])
        for featurizer in self.featurizers:
            featurizer.process([message])
        classifier.process([message])
        return message


@pytest.fixture
def pipeline(tmp_path) -> Pipeline:
    return Pipeline(LocalModelStorage(tmp_path))


@pytest.mark.parametrize(
    ("text", "intent"),
    [("我要报修空调", "request_service"), ("hello", "greet"), ("查一下工单进度", "check_status")],
)
def test_it_learns_the_intents_in_both_languages(pipeline, text, intent):
    message = pipeline.parse(pipeline.train(), text)
    assert message.get("intent")["name"] == intent
    ranking = message.get("intent_ranking")
    assert ranking[0]["name"] == intent
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])


def test_a_message_without_tokens_is_no_evidence_for_any_intent(pipeline):
    message = pipeline.parse(pipeline.train(), "？？？")
    confidences = [r["confidence"] for r in message.get("intent_ranking")]
    assert confidences == [pytest.approx(1 / len(EXAMPLES))] * len(EXAMPLES)  # → nlu_fallback


def test_the_idf_weights_travel_with_the_model(pipeline):
    trained = pipeline.train()
    loaded = pipeline.classifier(LinearIntentClassifier.load)
    assert loaded.idf is not None and (loaded.idf == trained.idf).all()
    for text in ["fix my washer please", "工单状态"]:
        before, after = pipeline.parse(trained, text), pipeline.parse(loaded, text)
        assert before.get("intent_ranking") == after.get("intent_ranking")


FULL = {"char_ngrams": [1, 4], "novelty_features": True}


@pytest.mark.parametrize(
    ("text", "intent"),
    [("我要报修空调", "request_service"), ("hello", "greet"), ("查一下工单进度", "check_status")],
)
def test_character_ngrams_and_novelty_still_learn_both_languages(pipeline, text, intent):
    message = pipeline.parse(pipeline.train(**FULL), text)
    assert message.get("intent")["name"] == intent


def test_character_ngrams_reach_across_word_boundaries(pipeline):
    classifier = pipeline.train(char_ngrams=[1, 4])
    vocabulary = classifier.chars.vocabulary_
    assert "y wa" in vocabulary  # "my washer": spans the space between two words
    assert "ｆｉｘ" not in vocabulary and "fix" in vocabulary  # width-folded, lower case
    # the same message in full-width capitals gets the same character features
    assert (
        pipeline.parse(classifier, "FIX MY TV").get("intent_ranking")[0]["name"]
        == pipeline.parse(classifier, "ｆｉｘ ｍｙ ｔｖ").get("intent_ranking")[0]["name"]
    )


def test_a_word_seen_in_training_is_not_new_at_prediction(pipeline):
    classifier = pipeline.train(novelty_features=True)
    assert classifier.word_df["tv"] == 1  # one training example has it
    seen, unseen, mixed = (
        pipeline.parse(classifier, text) for text in ["fix my tv", "xyzzy plugh", "fix xyzzy"]
    )
    assert classifier._novelty(seen, seen_in_others=1) == [0.0, 0.0]
    assert classifier._novelty(unseen, seen_in_others=1) == [1.0, 1.0]
    assert classifier._novelty(mixed, seen_in_others=1) == [0.5, 1.0]
    # while training, "fix my tv" is the only example with "fix" and "tv": to it they are
    # new; "my" is in another example too ("please repair my washer")
    assert classifier._novelty(seen, seen_in_others=2) == [pytest.approx(2 / 3), 1.0]


def test_the_character_vocabulary_and_word_counts_travel_with_the_model(pipeline):
    trained = pipeline.train(**FULL)
    loaded = pipeline.classifier(LinearIntentClassifier.load, **FULL)
    assert loaded.word_df == trained.word_df
    assert (loaded.char_idf == trained.char_idf).all()
    assert loaded.temperature == trained.temperature
    for text in ["fix my washer please", "工单状态", "完全没见过的话"]:
        before, after = pipeline.parse(trained, text), pipeline.parse(loaded, text)
        assert before.get("intent_ranking") == after.get("intent_ranking")
    model_dir = next(pipeline.storage._storage_path.glob("*intent*"))
    assert not list(model_dir.glob("*.pkl"))  # the additions are saved as numpy and JSON


def test_confidences_are_a_softmax_at_a_temperature_fitted_on_held_out_scores(pipeline):
    classifier = pipeline.train(**FULL)
    assert 0.01 <= classifier.temperature <= 10.0 and classifier.temperature != 1.0
    known = pipeline.parse(classifier, "我要报修空调").get("intent")
    unknown = pipeline.parse(classifier, "完全没见过的话").get("intent")
    assert known["name"] == "request_service"
    assert known["confidence"] > unknown["confidence"]


def test_two_intents_get_a_confidence_each(pipeline):
    two = {name: EXAMPLES[name] for name in ("greet", "check_status")}
    message = pipeline.parse(pipeline.train(two), "查一下进度")
    ranking = message.get("intent_ranking")
    assert [r["name"] for r in ranking] == ["check_status", "greet"]
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_an_intent_with_one_example_leaves_the_scores_unscaled(pipeline):
    few = {**EXAMPLES, "thank": ["谢谢"]}
    classifier = pipeline.train(few)
    assert classifier.temperature == 1.0  # too few examples to hold any out
    assert pipeline.parse(classifier, "谢谢").get("intent")["name"] == "thank"


@pytest.mark.parametrize("ngrams", [[3], [4, 2], [0, 3], ["1", "3"], 3])
def test_a_bad_character_ngram_range_is_refused_with_a_clear_message(pipeline, ngrams):
    with pytest.raises(InvalidConfigException, match=r"char_ngrams must be \[min, max\]"):
        pipeline.classifier(LinearIntentClassifier.create, char_ngrams=ngrams)


FAQ = {
    "faq/hotline": ["客服电话是多少", "热线号码", "what is your hotline number", "phone number?"],
    "faq/warranty_period": [
        "保修期多久",
        "保修几年",
        "how long is the warranty",
        "warranty period",
    ],
}
FAQ_RESPONSES = {
    "utter_faq/hotline": [{"text": "400-800-8888"}],
    "utter_faq/warranty_period": [{"text": "3 years"}],
}


def train_with_faq(pipeline: Pipeline, options: dict[str, Any]) -> LinearIntentClassifier:
    """EXAMPLES plus two FAQ answers of the retrieval intent `faq`, as Rasa loads them."""
    messages = [
        Message(data={"text": text, "intent": intent})
        for intent, texts in EXAMPLES.items()
        for text in texts
    ] + [
        Message(data={"text": text, "intent": "faq", "intent_response_key": key})
        for key, texts in FAQ.items()
        for text in texts
    ]
    return pipeline.train_on(TrainingData(messages, responses=FAQ_RESPONSES), **options)


@pytest.mark.parametrize(
    ("text", "answer"),
    [("你们的客服电话", "faq/hotline"), ("what's the warranty period", "faq/warranty_period")],
)
def test_the_retrieval_intent_is_one_intent_and_its_answer_is_selected(pipeline, text, answer):
    classifier = train_with_faq(pipeline, {"retrieval_intent": "faq"})
    assert sorted(classifier.clf.classes_) == sorted([*EXAMPLES, *FAQ])  # an answer a class
    message = pipeline.parse(classifier, text)
    ranking = message.get("intent_ranking")
    assert message.get("intent")["name"] == "faq"
    assert sorted(r["name"] for r in ranking) == sorted([*EXAMPLES, "faq"])
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    # what utter_faq reads (rasa.core.actions.action.ActionRetrieveResponse)
    selected = message.get("response_selector")["faq"]
    assert selected["response"]["intent_response_key"] == answer
    assert selected["response"]["utter_action"] == f"utter_{answer}"
    assert selected["response"]["responses"] == FAQ_RESPONSES[f"utter_{answer}"]
    assert sum(r["confidence"] for r in selected["ranking"]) == pytest.approx(1.0)
    assert message.get("response_selector")["all_retrieval_intents"] == ["faq"]


def test_the_answers_travel_with_the_model(pipeline):
    trained = train_with_faq(pipeline, {"retrieval_intent": "faq"})
    loaded = pipeline.classifier(LinearIntentClassifier.load, retrieval_intent="faq")
    assert loaded.responses == FAQ_RESPONSES
    before, after = (pipeline.parse(c, "热线号码多少") for c in (trained, loaded))
    assert before.get("response_selector") == after.get("response_selector")


def test_without_a_retrieval_intent_the_answers_are_not_classes(pipeline):
    classifier = train_with_faq(pipeline, {})
    assert sorted(classifier.clf.classes_) == sorted([*EXAMPLES, "faq"])
    assert pipeline.parse(classifier, "热线号码").get("response_selector") is None
