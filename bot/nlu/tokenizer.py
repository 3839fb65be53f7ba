"""A tokenizer for Chinese, English and mixed text (one NLU model for both languages).

Rasa's `JiebaTokenizer` declares itself Chinese-only and, on mixed text, returns the
spaces between English words as tokens. This one:

- folds full-width ASCII (`ＫＦＲ－３５ＧＷ`, `，`) to half-width one character for one, so
  entity offsets still point into the customer's own text;
- keeps Latin/digit compounds whole — model codes `KFR-35GW`, serials, ticket references
  `CS-20261124-0007`, phone numbers `+8613800138000`, `don't` — so entities align;
- segments Chinese runs with Jieba plus the project's after-sales dictionary
  (`dictionary_path`, Jieba's user-dictionary format), copied into the model so a
  trained model does not depend on the source tree;
- keeps the one-character words in `single_character_words` (the service verbs 修, 装,
  换) apart where Jieba's HMM would glue them to a neighbour into a word its dictionary
  does not have (来修, 修下, 要换), so that they stay whole tokens for the entity lookup;
  words the dictionary has (修好, 换货) are left alone;
- drops whitespace and punctuation.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# U+FF01..U+FF5E are the full-width forms of ASCII 0x21..0x7E; U+3000 is the ideographic space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_TOKEN = re.compile(
    r"(?P<latin>\+?[A-Za-z0-9]+(?:[-_./'’][A-Za-z0-9]+)*)"
    r"|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
)


def fold_width(text: str) -> str:
    """Full-width ASCII to half-width; the result has the same length as the input."""
    return text.translate(_FULL_WIDTH)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class BilingualTokenizer(Tokenizer):
    """Chinese + English + mixed text; see the module docstring."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "dictionary_path": None,
            "single_character_words": [],
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
        }

    @staticmethod
    def supported_languages() -> list[str] | None:
        return None

    @staticmethod
    def required_packages() -> list[str]:
        return ["jieba"]

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        dictionaries: list[Path],
    ) -> None:
        import jieba

        super().__init__(config)
        self._model_storage = model_storage
        self._resource = resource
        self._dictionaries = dictionaries
        # A private Jieba instance: the global one is shared with whatever else runs here.
        self._jieba = jieba.Tokenizer()
        for path in dictionaries:
            self._jieba.load_userdict(str(path))
        self._apart = _apart_pattern(config["single_character_words"])

    @staticmethod
    def _dictionary_files(directory: str | None) -> list[Path]:
        if not directory:
            return []
        path = Path(directory)
        if not path.is_dir():
            raise ValueError(f"dictionary_path {directory!r} is not a directory")
        return sorted(p for p in path.iterdir() if p.suffix == ".txt")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> BilingualTokenizer:
        return cls(
            config, model_storage, resource, cls._dictionary_files(config["dictionary_path"])
        )

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> BilingualTokenizer:
        try:
            with model_storage.read_from(resource) as directory:
                return cls(config, model_storage, resource, cls._dictionary_files(str(directory)))
        except ValueError:  # trained without a dictionary: nothing was stored
            return cls(config, model_storage, resource, [])

    def train(self, training_data: TrainingData) -> Resource:
        """Copies the dictionaries into the model."""
        if self._dictionaries:
            with self._model_storage.write_to(self._resource) as directory:
                for path in self._dictionaries:
                    shutil.copy2(path, directory / path.name)
        return self._resource

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = fold_width(message.get(attribute) or "")
        tokens: list[Token] = []
        for match in _TOKEN.finditer(text):
            if match.lastgroup == "latin":
                tokens.append(Token(match.group(), match.start()))
                continue
            offset = match.start()
            for word, start, _end in self._jieba.tokenize(match.group()):
                if self._apart and len(word) > 1 and not self._jieba.FREQ.get(word):
                    # a word Jieba's HMM guessed: split off the single-character words
                    for piece in self._apart.finditer(word):
                        tokens.append(Token(piece.group(), offset + start + piece.start()))
                else:
                    tokens.append(Token(word, offset + start))
        return self._apply_token_pattern(tokens)


def _apart_pattern(words: list[str]) -> re.Pattern[str] | None:
    """Matches each of `words` alone and every run of other characters between them."""
    if not words:
        return None
    if any(len(word) != 1 for word in words):
        raise ValueError(f"single_character_words must be single characters, not {words!r}")
    chars = re.escape("".join(words))
    return re.compile(f"[{chars}]|[^{chars}]+")
