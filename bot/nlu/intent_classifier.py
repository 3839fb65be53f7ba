"""Intent classification by a linear support vector machine over the pipeline's features.

Built on Rasa's `LogisticRegressionClassifier` (its persistence and interface), with
changes that bench/nlu.py measured as worth having on this project's data
(docs/performance.md):

- a linear SVM (squared hinge loss, one-vs-rest) instead of logistic regression: on the
  same features it scores higher on held-out examples (intent macro-F1 0.942 vs 0.935);
  its scores become confidences by a softmax with a temperature fitted on held-out scores
  of the training data (temperature scaling), so FallbackClassifier's threshold means
  what a probability would;
- the counts are TF-IDF weighted (sublinear term frequency, rows scaled to unit length),
  so a long message is not more certain than a short one and the words every intent uses
  weigh little;
- `C` (inverse regularisation strength) is configurable;
- `char_ngrams: [min, max]` adds the classifier's own TF-IDF character n-grams of the
  whole message (width-folded, lower case), across word boundaries ("不制冷", "not
  cooling"), which the pipeline's `char_wb` counts do not see; DIET and the response
  selector are unaffected;
- `novelty_features: true` adds two features: the share of the message's words that no
  training example has, and whether there is any. They let the model learn how sure to
  be of a message built from unseen words. In training a word counts as new when no
  *other* example has it, so the training rows look like unseen messages do;
- a message that tokenizes to nothing ("。。。。", an emoji) gets the same confidence for
  every intent, so FallbackClassifier answers it; Rasa's raises on the missing features;
- `retrieval_intent: faq` makes each answer of that retrieval intent (`faq/hotline`, …)
  a class of its own: the intent's confidence is the sum of its answers', and the best
  answer is written where Rasa's ResponseSelector writes its choice (the message's
  `response_selector` output, which `utter_faq` reads), so the pipeline needs no
  ResponseSelector. An intent of many topics is easier for a linear model as its topics.

DIET stays in the pipeline for the entities (`intent_classification: false`).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.nlu.constants import (
    RESPONSE_SELECTOR_PREDICTION_KEY,
    RESPONSE_SELECTOR_PROPERTY_NAME,
    RESPONSE_SELECTOR_RANKING_KEY,
    RESPONSE_SELECTOR_RESPONSES_KEY,
    RESPONSE_SELECTOR_RETRIEVAL_INTENTS,
    RESPONSE_SELECTOR_UTTER_ACTION_KEY,
    TOKENS_NAMES,
)
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.nlu.training_data.util import intent_response_key_to_template_key
from rasa.utils.tensorflow.constants import RANKING_LENGTH
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix, diags, hstack, vstack
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from bot.nlu.tokenizer import fold_width

_IDF_FILE = "idf.npy"
_CHAR_IDF_FILE = "char_idf.npy"
_VOCABULARY_FILE = "vocabulary.json"


def _fold(text: str) -> str:
    return fold_width(text).lower()


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """A linear SVM on TF-IDF weighted sentence features, with calibrated confidences."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "C": 1.0,
            "max_iter": 5000,
            "tol": 1e-4,
            "random_state": 42,
            RANKING_LENGTH: LABEL_RANKING_LENGTH,
            "char_ngrams": None,
            "novelty_features": False,
            "retrieval_intent": None,
        }

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        ngrams = config.get("char_ngrams")
        if ngrams is not None and not (
            isinstance(ngrams, list | tuple)
            and len(ngrams) == 2
            and all(isinstance(n, int) and n >= 1 for n in ngrams)
            and ngrams[0] <= ngrams[1]
        ):
            raise InvalidConfigException(
                f"LinearIntentClassifier: char_ngrams must be [min, max] with "
                f"1 <= min <= max, or left out; got {ngrams!r}"
            )

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
    ) -> None:
        # not super().__init__: it builds a LogisticRegression from options this class has not
        self.name = name
        self.config = {**self.get_default_config(), **config}
        self.validate_config(self.config)
        self._model_storage, self._resource = model_storage, resource
        self.clf = LinearSVC(
            C=self.config["C"],
            max_iter=self.config["max_iter"],
            tol=self.config["tol"],
            random_state=self.config["random_state"],
        )
        self.temperature = 1.0
        self.idf: np.ndarray | None = None
        self.chars: CountVectorizer | None = None
        self.char_idf: np.ndarray | None = None
        self.word_df: dict[str, int] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource  # nothing to learn; load() then gives an untrained component
        counts = self._counts(examples)
        self.idf = TfidfTransformer(sublinear_tf=True).fit(counts).idf_
        if self.config["char_ngrams"]:
            self.chars = self._char_vectorizer()
            char_counts = self.chars.fit_transform([e.get(TEXT) for e in examples])
            self.char_idf = TfidfTransformer(sublinear_tf=True).fit(char_counts).idf_
        if self.config["novelty_features"]:
            self.word_df = dict(Counter(w for e in examples for w in set(self._words(e))))
        features = self._features(examples, counts, seen_in_others=2)
        labels = [self._label(e) for e in examples]
        if self.config["retrieval_intent"]:
            self.responses = training_data.responses
        self.temperature = self._fit_temperature(features, labels)
        self.clf.fit(features, labels)
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        counts = self._counts(messages)
        features = self._features(messages, counts, seen_in_others=1)
        scores = self._as_columns(self.clf.decision_function(features))
        probabilities = softmax(scores / self.temperature, axis=1)
        answers = self._answer_columns()
        names, intents = self._intents(probabilities, answers)
        # no token ("？？？", an emoji): no evidence for any intent, so FallbackClassifier acts
        intents[counts.getnnz(axis=1) == 0] = 1.0 / len(names)
        length = self.config[RANKING_LENGTH]
        for message, row, full_row in zip(messages, intents, probabilities, strict=True):
            ranking = [
                {"name": names[k], "confidence": float(row[k])}
                for k in np.argsort(-row, kind="stable")
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[:length] or ranking, add_to_output=True)
            if answers:
                self._select_response(message, full_row, answers)
        return messages

    def _label(self, example: Message) -> str:
        """The class an example trains: its answer (`faq/hotline`) if of the retrieval intent."""
        intent = example.get(INTENT)
        return example.get_full_intent() if intent == self.config["retrieval_intent"] else intent

    def _answer_columns(self) -> list[int]:
        """The columns of the retrieval intent's answers (none if there is no such intent)."""
        if not self.config["retrieval_intent"]:
            return []
        prefix = f"{self.config['retrieval_intent']}/"
        return [k for k, name in enumerate(self.clf.classes_) if str(name).startswith(prefix)]

    def _intents(
        self, probabilities: np.ndarray, answers: list[int]
    ) -> tuple[list[str], np.ndarray]:
        """The intents and their confidences: a retrieval intent's is the sum of its answers'."""
        names = [str(name) for name in self.clf.classes_]
        if not answers:
            return names, probabilities
        others = [k for k in range(len(names)) if k not in answers]
        merged = np.column_stack([probabilities[:, others], probabilities[:, answers].sum(axis=1)])
        return [names[k] for k in others] + [self.config["retrieval_intent"]], merged

    def _select_response(
        self, message: Message, probabilities: np.ndarray, columns: list[int]
    ) -> None:
        """Write the best answer of the retrieval intent as ResponseSelector would."""
        shares = probabilities[columns] / probabilities[columns].sum()
        ranking = [
            {
                PREDICTED_CONFIDENCE_KEY: float(shares[k]),
                INTENT_RESPONSE_KEY: str(self.clf.classes_[columns[k]]),
            }
            for k in np.argsort(-shares, kind="stable")
        ]
        best = ranking[0][INTENT_RESPONSE_KEY]
        template = intent_response_key_to_template_key(best)
        selector = message.get(RESPONSE_SELECTOR_PROPERTY_NAME) or {}
        selector[RESPONSE_SELECTOR_RETRIEVAL_INTENTS] = [self.config["retrieval_intent"]]
        selector[self.config["retrieval_intent"]] = {
            RESPONSE_SELECTOR_PREDICTION_KEY: {
                RESPONSE_SELECTOR_RESPONSES_KEY: self.responses.get(template, []),
                PREDICTED_CONFIDENCE_KEY: ranking[0][PREDICTED_CONFIDENCE_KEY],
                INTENT_RESPONSE_KEY: best,
                RESPONSE_SELECTOR_UTTER_ACTION_KEY: template,
            },
            RESPONSE_SELECTOR_RANKING_KEY: ranking[: self.config[RANKING_LENGTH]] or ranking,
        }
        message.set(RESPONSE_SELECTOR_PROPERTY_NAME, selector, add_to_output=True)

    def _fit_temperature(self, features: csr_matrix, labels: list[str]) -> float:
        """The temperature whose softmax of held-out scores fits their labels best.

        The scores come from 3-fold cross-validation on the training data (fewer folds if
        an intent has fewer examples; 1.0 if one has a single example).
        """
        classes, index, sizes = np.unique(labels, return_inverse=True, return_counts=True)
        folds = min(3, sizes.min())
        if folds < 2 or len(classes) < 2:
            return 1.0
        split = StratifiedKFold(folds, shuffle=True, random_state=self.config["random_state"])
        held_out = cross_val_predict(
            clone(self.clf), features, labels, cv=split, method="decision_function"
        )
        held_out = self._as_columns(held_out)

        def loss(temperature: float) -> float:
            likelihoods = log_softmax(held_out / temperature, axis=1)
            return -likelihoods[np.arange(len(index)), index].mean()

        return float(minimize_scalar(loss, bounds=(0.01, 10.0), method="bounded").x)

    @staticmethod
    def _as_columns(scores: np.ndarray) -> np.ndarray:
        """One column per intent; scikit-learn gives a single one for two intents."""
        return np.column_stack([-scores, scores]) if scores.ndim == 1 else scores

    def _features(
        self, messages: list[Message], counts: csr_matrix, seen_in_others: int
    ) -> csr_matrix:
        """The weighted word features, then the character n-grams and novelty if configured.

        A word is new when fewer than `seen_in_others` training examples have it: 2 while
        training (the example itself is one), 1 at prediction.
        """
        blocks = [self._weigh(counts, self.idf)]
        if self.chars is not None:
            char_counts = self.chars.transform([m.get(TEXT) or "" for m in messages])
            blocks.append(self._weigh(char_counts.astype(float), self.char_idf))
        if self.config["novelty_features"]:
            blocks.append(csr_matrix([self._novelty(m, seen_in_others) for m in messages]))
        return hstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]

    def _novelty(self, message: Message, seen_in_others: int) -> list[float]:
        words = self._words(message)
        new = sum(self.word_df.get(w, 0) < seen_in_others for w in words)
        share = new / len(words) if words else 0.0
        return [share, float(new > 0)]

    @staticmethod
    def _words(message: Message) -> list[str]:
        return [_fold(t.text) for t in message.get(TOKENS_NAMES[TEXT]) or []]

    def _char_vectorizer(self, vocabulary: dict[str, int] | None = None) -> CountVectorizer:
        low, high = self.config["char_ngrams"]
        return CountVectorizer(
            analyzer="char",
            ngram_range=(low, high),
            preprocessor=_fold,
            lowercase=False,  # _fold lowers
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    @staticmethod
    def _weigh(counts: csr_matrix, idf: np.ndarray | None) -> csr_matrix:
        """Sublinear term frequency times the training data's idf, each row unit length."""
        weighted = counts.copy()
        weighted.data = 1.0 + np.log(weighted.data)
        if idf is not None:
            weighted = weighted @ diags(idf)
        return normalize(weighted)

    def _counts(self, messages: list[Message]) -> csr_matrix:
        rows = [self._row(m) for m in messages]
        width = next((r.shape[1] for r in rows if r is not None), 0) or self._width()
        counts = vstack(
            [r if r is not None else csr_matrix((1, width)) for r in rows], format="csr"
        ).astype(float)
        counts.eliminate_zeros()  # an explicit zero is not a term the message has
        return counts

    @staticmethod
    def _row(message: Message) -> csr_matrix | None:
        sparse = message.get_sparse_features(TEXT)[1]
        dense = message.get_dense_features(TEXT)[1]
        parts = [csr_matrix(f.features) for f in (sparse, dense) if f is not None]
        return hstack(parts, format="csr") if parts else None

    def _width(self) -> int:
        return len(self.idf) if self.idf is not None else 0

    def persist(self) -> None:
        super().persist()
        if self.idf is None:
            return
        with self._model_storage.write_to(self._resource) as model_dir:
            np.save(model_dir / _IDF_FILE, self.idf)
            if self.chars is not None and self.char_idf is not None:
                np.save(model_dir / _CHAR_IDF_FILE, self.char_idf)
            vocabulary = {
                "chars": self.chars.vocabulary_ if self.chars is not None else None,
                "word_df": self.word_df,
                "temperature": self.temperature,
                "responses": self.responses,
            }
            (model_dir / _VOCABULARY_FILE).write_text(
                json.dumps(vocabulary, ensure_ascii=False, default=int), encoding="utf-8"
            )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LinearIntentClassifier:
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        try:
            with model_storage.read_from(resource) as model_dir:
                component.idf = np.load(model_dir / _IDF_FILE)
                vocabulary = json.loads((model_dir / _VOCABULARY_FILE).read_text(encoding="utf-8"))
                if vocabulary["chars"] is not None:
                    component.chars = component._char_vectorizer(vocabulary["chars"])
                    component.char_idf = np.load(model_dir / _CHAR_IDF_FILE)
                component.word_df = vocabulary["word_df"]
                component.temperature = vocabulary["temperature"]
                component.responses = vocabulary["responses"]
        except (ValueError, FileNotFoundError):
            pass  # untrained (no data): super().load() returned a fresh component
        return component
