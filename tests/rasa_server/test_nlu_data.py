"""The training data's own consistency rules (docs/nlu-data.md)."""

from __future__ import annotations

from pathlib import Path

import yaml

from actions.common import CATEGORY_NAMES
from bot.nlu.tokenizer import fold_width

ROOT = Path(__file__).resolve().parents[2]
ENTITIES = ROOT / "data" / "nlu" / "entities.yml"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
# the values the lookup tables must cover: the service slot's and the product categories
LOOKED_UP = {
    "service_type": DOMAIN["slots"]["service_type"]["values"],
    "product": list(CATEGORY_NAMES),
}
TOO_SHORT = {"fit", "ac", "a/c"}  # match inside other words (benefit, back, each)


def _items(kind: str) -> dict[str, list[str]]:
    data = yaml.safe_load(ENTITIES.read_text(encoding="utf-8"))["nlu"]
    return {str(item[kind]): _lines(item["examples"]) for item in data if kind in item}


def _lines(examples: str) -> list[str]:
    return [line[2:].strip() for line in examples.splitlines() if line.strip()]


def test_every_wording_of_a_service_or_product_is_in_its_lookup_table():
    synonyms, lookups = _items("synonym"), _items("lookup")
    for entity, values in LOOKED_UP.items():
        table = {word.lower() for word in lookups[entity]}
        for value in values:
            for wording in [value.replace("_", " "), *synonyms[value]]:
                if len(wording) > 1 and wording.lower() not in TOO_SHORT:
                    assert wording.lower() in table, f"{wording!r} ({value}) missing from {entity}"


def _texts(*paths: Path) -> set[str]:
    """The examples' texts: annotations stripped, width, case and spaces folded."""
    from rasa.shared.importers.utils import training_data_from_paths

    data = training_data_from_paths([str(p) for p in paths], "zh")
    return {"".join(fold_width(m.get("text")).lower().split()) for m in data.intent_examples}


def test_the_held_out_set_shares_no_example_with_the_training_data():
    """bench/holdout_nlu.yml measures unseen text only while none of it is trained on."""
    training = _texts(*sorted((ROOT / "data" / "nlu").glob("*.yml")))
    held_out = _texts(ROOT / "bench" / "holdout_nlu.yml")
    assert len(held_out) >= 350
    assert not sorted(held_out & training)
