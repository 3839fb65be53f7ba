"""Intent classification by logistic regression over the pipeline's sparse features.

Rasa's `LogisticRegressionClassifier` with three changes that bench/nlu.py measured as
worth having on this project's data (docs/performance.md):

- the counts are TF-IDF weighted (sublinear term frequency, rows scaled to unit length),
  so a long message is not more certain than a short one and the words every intent uses
  weigh little;
- `C` (inverse regularisation strength) is configurable; Rasa fixes scikit-learn's 1.0;
- a message that tokenizes to nothing ("。。。。", an emoji) gets the same confidence for
  every intent, so FallbackClassifier answers it; Rasa's raises on the missing features.

DIET stays in the pipeline for the entities (`intent_classification: false`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH
from scipy.sparse import csr_matrix, diags, hstack, vstack
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

_IDF_FILE = "idf.npy"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(LogisticRegressionClassifier):
    """Logistic regression on TF-IDF weighted sentence features."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "C": 10.0,
            "max_iter": 1000,
        }

    def __init__(self, config: dict[str, Any], *args: Any) -> None:
        super().__init__(config, *args)
        self.clf.set_params(C=self.config["C"])
        self.idf: np.ndarray | None = None

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource  # nothing to learn; load() then gives an untrained component
        counts = self._counts(examples)
        self.idf = TfidfTransformer(sublinear_tf=True).fit(counts).idf_
        self.clf.fit(self._weigh(counts), [e.get(INTENT) for e in examples])
        self.persist()
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        counts = self._counts(messages)
        probabilities = self.clf.predict_proba(self._weigh(counts))
        # no token ("？？？", an emoji): no evidence for any intent, so FallbackClassifier acts
        probabilities[counts.getnnz(axis=1) == 0] = 1.0 / len(self.clf.classes_)
        length = self.config[RANKING_LENGTH]
        names = self.clf.classes_
        for message, row in zip(messages, probabilities, strict=True):
            ranking = [
                {"name": str(names[k]), "confidence": float(row[k])}
                for k in np.argsort(-row, kind="stable")
            ]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking[:length] or ranking, add_to_output=True)
        return messages

    def _weigh(self, counts: csr_matrix) -> csr_matrix:
        """Sublinear term frequency times the training data's idf, each row unit length."""
        weighted = counts.copy()
        weighted.data = 1.0 + np.log(weighted.data)
        if self.idf is not None:
            weighted = weighted @ diags(self.idf)
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
        if self.idf is not None:
            with self._model_storage.write_to(self._resource) as model_dir:
                np.save(model_dir / _IDF_FILE, self.idf)

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
        except (ValueError, FileNotFoundError):
            pass  # untrained (no data): super().load() returned a fresh component
        return component
