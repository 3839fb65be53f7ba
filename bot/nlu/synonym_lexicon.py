"""An entity found by its synonyms: every wording the training data lists for its values.

`service_type` is a closed set (repair, installation, maintenance, replacement) that the
customer names with a word from a short list: 维修, 报修, 修, fix, 安装, install, 保养,
clean, 换货, replace … (`data/nlu/entities.yml`). DIET tags those words by context, misses
some and tags words that are no service ("保修"). This component looks the words up
instead:

- at training, the lexicon is every synonym (`entity_synonyms`) whose value is a value the
  entity is annotated with, plus the values themselves; it is saved with the model;
- at parse time, when the message's intent is one of `intents` (the annotation rule in
  docs/nlu-data.md: a service word is the entity in a service request or a bare answer,
  not in a complaint about a repair, a status question or a rating), the entity is what
  the lexicon matches on whole tokens, longest first; where it matches several words and
  DIET tagged some of them ("修不好就换一台吧" — the request is 换), DIET's choice among
  them. Under any other intent the message has none of this entity: DIET's guesses there
  ("保修" in a warranty question) would fill the slot with a wrong kind.

Runs after the intent classifiers (it reads the intent) and before `FallbackClassifier`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.constants import (
    ENTITIES,
    ENTITY_ATTRIBUTE_END,
    ENTITY_ATTRIBUTE_START,
    ENTITY_ATTRIBUTE_TYPE,
    ENTITY_ATTRIBUTE_VALUE,
    EXTRACTOR,
    INTENT,
    INTENT_NAME_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.tokenizer import fold_width

_LEXICON_FILE = "lexicon.json"
_SPACES = re.compile(r"\s+")


def _key(text: str) -> str:
    return _SPACES.sub(" ", fold_width(text).strip().lower())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class SynonymLexiconExtractor(GraphComponent, EntityExtractorMixin):
    """See the module docstring. Configuration: `entity`, `intents`, `max_tokens`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "entity": "service_type",
            "intents": ["request_service", "inform"],
            "max_tokens": 3,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: dict[str, str] | None = None,
    ) -> None:
        self._entity: str = config["entity"]
        self._intents = set(config["intents"])
        self._max_tokens: int = config["max_tokens"]
        self._storage, self._resource = model_storage, resource
        self.lexicon: dict[str, str] = lexicon or {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SynonymLexiconExtractor:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SynonymLexiconExtractor:
        try:
            with model_storage.read_from(resource) as directory:
                lexicon = json.loads((directory / _LEXICON_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            lexicon = {}  # trained on data without the entity: nothing to look up
        return cls(config, model_storage, resource, lexicon)

    def train(self, training_data: TrainingData) -> Resource:
        synonyms = {
            _key(wording): value for wording, value in training_data.entity_synonyms.items()
        }
        annotated = {
            _key(str(entity[ENTITY_ATTRIBUTE_VALUE]))
            for message in training_data.entity_examples
            for entity in message.get(ENTITIES) or []
            if entity[ENTITY_ATTRIBUTE_TYPE] == self._entity
        }
        values = {synonyms.get(wording, wording) for wording in annotated}
        self.lexicon = {_key(v): v for v in values} | {
            wording: value for wording, value in synonyms.items() if value in values
        }
        with self._storage.write_to(self._resource) as directory:
            (directory / _LEXICON_FILE).write_text(
                json.dumps(self.lexicon, ensure_ascii=False, sort_keys=True), encoding="utf-8"
            )
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            tagged = [e for e in entities if e[ENTITY_ATTRIBUTE_TYPE] == self._entity]
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            found = self._look_up(message) if intent in self._intents else []
            if len(found) > 1:
                spans = {_span(e) for e in tagged}
                found = [e for e in found if _span(e) in spans] or found
            if tagged or found:
                others = [e for e in entities if e[ENTITY_ATTRIBUTE_TYPE] != self._entity]
                message.set(ENTITIES, others + found, add_to_output=True)
        return messages

    def _look_up(self, message: Message) -> list[dict[str, Any]]:
        """Lexicon wordings over whole tokens, longest first, left to right."""
        text = message.get(TEXT) or ""
        tokens: list[Token] = message.get(TOKENS_NAMES[TEXT]) or []
        found, i = [], 0
        while i < len(tokens):
            for length in range(min(self._max_tokens, len(tokens) - i), 0, -1):
                start, end = tokens[i].start, tokens[i + length - 1].end
                value = self.lexicon.get(_key(text[start:end]))
                if value is not None:
                    found.append(self._entity_at(start, end, value))
                    i += length
                    break
            else:
                i += 1
        return found

    def _entity_at(self, start: int, end: int, value: str) -> dict[str, Any]:
        return {
            ENTITY_ATTRIBUTE_TYPE: self._entity,
            ENTITY_ATTRIBUTE_START: start,
            ENTITY_ATTRIBUTE_END: end,
            ENTITY_ATTRIBUTE_VALUE: value,
            "confidence_entity": 1.0,
            EXTRACTOR: self.name,
        }


def _span(entity: dict[str, Any]) -> tuple[int, int]:
    return entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]
