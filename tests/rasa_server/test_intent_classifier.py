"""LinearIntentClassifier: TF-IDF logistic regression, trained and loaded through Rasa."""

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
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

    def train(self) -> LinearIntentClassifier:
        data = TrainingData(
            [
                Message(data={"text": text, "intent": intent})
                for intent, texts in EXAMPLES.items()
                for text in texts
            ]
        )
        self.tokenizer.process_training_data(data)
        for featurizer in self.featurizers:
            featurizer.train(data)
            featurizer.process_training_data(data)
        classifier = self.classifier(LinearIntentClassifier.create)
        classifier.train(data)
        return classifier

    def classifier(self, make) -> LinearIntentClassifier:
        config = {**LinearIntentClassifier.get_default_config(), "C": 100.0}
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
