"""An FAQ is a question: statements the model takes for one get the next intent instead.

The `faq` retrieval intent has the most training examples of all, and DIET readily gives
it statements it has never seen ("师傅把卫生间的瓷砖打裂了" → faq/data_privacy). Inside a
form that interrupts the customer's answer with an unrelated FAQ answer, again and again.
This component runs after the classifiers and before `FallbackClassifier`: when the top
intent is `faq` and the message is neither a question nor a short keyword query ("保修期",
"visit fee"), `faq` moves to the end of the ranking and the next intent takes its place
(its own confidence, so a weak one still falls back).
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.tokenizer import fold_width

_QUESTION = re.compile(
    r"[?？]|[吗嘛呢么]\s*$|多少|多久|多长|几[天年个次点号]|怎么|怎样|如何|什么|哪|是否|可以吗|"
    r"([\u4e00-\u9fff])[不没]\1|"  # A-not-A: 管不管, 在不在, 有没有, 能不能
    r"是.{1,8}还是|"  # A or B: 是一年还是三年
    r"(?:^|[,;:，；：]\s*)(?:how|what|whats|when|where|why|who|which|can|could|do|does|did|"
    r"is|are|will|would|should|may|shall|any)\b|"  # a question word opening a clause
    r"\bhow (?:much|many|long|often|soon)\b|"
    r"\b(?:what|how|when|where|which|who|why)\s+(?:is|are|will|would|do|does|did|can|could)\b|"
    r"\b(?:can|could|do|does|is|are|will|would|should|may)\s+(?:i|you|we|it|this|that|they)\b",
    re.IGNORECASE,
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]+")


def asks(text: str) -> bool:
    """A question ("保修期多长时间", "how long is the warranty") or a short keyword query
    ("保修期", "after sales hotline number": at most 8 Chinese characters or 4 words),
    rather than a statement ("the fault came back")."""
    text = fold_width(text or "").strip()
    if _QUESTION.search(text):
        return True
    han, words = len(_HAN.findall(text)), len(_WORD.findall(text))
    return (han <= 8 and words == 0) or (han == 0 and words <= 4)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class FaqQuestionFilter(GraphComponent, IntentClassifier):
    """See the module docstring. Configuration: `intent` (default `faq`)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"intent": "faq"}

    def __init__(self, config: dict[str, Any]) -> None:
        self._intent = config["intent"]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqQuestionFilter:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) != self._intent or asks(message.get(TEXT)):
                continue
            ranking = message.get(INTENT_RANKING_KEY) or []
            others = [r for r in ranking if r.get(INTENT_NAME_KEY) != self._intent]
            if not others:
                continue
            demoted = [r for r in ranking if r.get(INTENT_NAME_KEY) == self._intent]
            message.set(INTENT, dict(others[0]), add_to_output=True)
            message.set(INTENT_RANKING_KEY, others + demoted, add_to_output=True)
        return messages
