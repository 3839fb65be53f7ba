"""NLU benchmark: stratified k-fold cross-validation of config.yml's NLU pipeline.

    PYTHONPATH=. .venv-rasa/bin/python bench/nlu.py [--folds 5] [--no-baseline] [--holdout]

What it does, with Rasa's own Python API (the same steps as `rasa test nlu
--cross-validation`, but with a fixed seed so two runs split the data alike, and keeping
the parse results so entity *values* can be scored):

1. loads every NLU file under data/ (data/nlu/*.yml and the FAQ responses in data/faq.yml);
2. splits the examples into k stratified folds on the full intent (`faq/hotline`, …);
3. for each fold trains config.yml's NLU pipeline on the other folds
   (`rasa.model_training.train_nlu`) and parses the held-out examples;
4. prints, over all held-out examples:
   - intent macro-F1 (the retrieval sub-intents count as `faq`) and per-intent F1;
     as in `rasa test nlu`, a FallbackClassifier prediction is undone and scored as the
     intent below it; how many would have fallen back is printed too, and for fallback
     thresholds 0.3–0.7 the share of messages answered and how many of those are right;
   - FAQ answer accuracy: the `faq/<key>` chosen for the FAQ examples;
   - per-entity precision/recall/F1 (an entity counts when type, start and end match);
   - value accuracy of `service_type` (and `product`, `rating`): over examples annotated
     with the entity, the normalised values extracted (after EntitySynonymMapper) must equal
     the annotated ones, synonyms applied;
   - PASS/FAIL against the targets: intent macro-F1 >= 0.95, service_type accuracy >= 0.95.
5. baseline, in the same run and on the same folds: the same pipeline with
   `BilingualTokenizer` swapped for `BenchCharTokenizer` below (every Chinese character a
   token, Latin/digit runs whole, no Jieba, no dictionary), to show what the word
   segmentation and the project dictionary are worth; prints ours/baseline ratios.
   `--baseline-epochs` trains the baseline's DIET/ResponseSelector for fewer epochs to save
   time (the default is the same epochs as config.yml, the fair comparison).

`--holdout [FILE]` also trains once on all of data/ and scores FILE (default
bench/holdout_nlu.yml: examples written without sight of data/, never trained on), a check
that what the folds measure is not the data's likeness to itself.

`--intents-only` keeps only what decides the intent and the FAQ answer (the tokenizer, the
featurizers and the intent classifier: no DIET entity extraction or synonym lookup), about
4 min instead of 20, and scores those alone.

The held-out errors and all figures are written to var/nlu-cv/ (`--out`). The exit status
is 0 on PASS, 1 on FAIL. Budget: ~15 min on 2 cores for both pipelines and 5 folds.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import importlib
import json
import logging
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

# Before TensorFlow / Rasa are imported: quiet logs, and no training cache (every fold is
# trained for real, so the timing means something and nothing is written to .rasa/).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RASA_MAX_CACHE_SIZE", "0")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.log_utils import configure_structlog

from bot.nlu.tokenizer import _TOKEN, BilingualTokenizer, fold_width

ROOT = Path(__file__).resolve().parent.parent
TARGET_INTENT_F1 = 0.95
TARGET_SERVICE_TYPE_ACC = 0.95
VALUE_ENTITIES = ("service_type", "product", "rating")


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class BenchCharTokenizer(BilingualTokenizer):
    """Baseline tokenizer: one token per Chinese character, Latin/digit runs kept whole."""

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = fold_width(message.get(attribute) or "")
        tokens: list[Token] = []
        for match in _TOKEN.finditer(text):
            if match.lastgroup == "latin":
                tokens.append(Token(match.group(), match.start()))
            else:
                tokens.extend(
                    Token(char, match.start() + i) for i, char in enumerate(match.group())
                )
        return self._apply_token_pattern(tokens)


# --- data and folds ------------------------------------------------------------------------


def load_training_data(data_dir: Path):
    """All NLU files under data_dir, or that file (as `rasa test nlu --nlu data`); stories
    and rules skipped."""
    from rasa.shared.data import get_data_files, is_nlu_file
    from rasa.shared.importers.utils import training_data_from_paths

    return training_data_from_paths(sorted(get_data_files([str(data_dir)], is_nlu_file)), "zh")


def make_folds(examples: list[Message], n_folds: int, seed: int) -> list[list[int]]:
    """Indices of the held-out examples of each fold, stratified on the full intent."""
    from sklearn.model_selection import StratifiedKFold

    labels = [m.get_full_intent() for m in examples]
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return [list(test) for _train, test in skf.split(examples, labels)]


def fold_data(data, examples: list[Message], indices: list[int]):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    return TrainingData(
        training_examples=[examples[i] for i in indices],
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
        responses=data.responses,
    )


# --- training and parsing ----------------------------------------------------------------


# what finds entities or picks an FAQ answer (DIET classifies no intent: config.yml says so)
NOT_INTENT_COMPONENTS = frozenset(
    {"DIETClassifier", "EntitySynonymMapper", "ResponseSelector", "SynonymLexiconExtractor"}
)


def intents_only_config(config: dict) -> dict:
    config = copy.deepcopy(config)
    config["pipeline"] = [
        c for c in config["pipeline"] if c["name"].rsplit(".", 1)[-1] not in NOT_INTENT_COMPONENTS
    ]
    return config


def baseline_config(config: dict, epochs: int | None) -> dict:
    config = copy.deepcopy(config)
    for component in config["pipeline"]:
        if component["name"].endswith("BilingualTokenizer"):
            component["name"] = "bench.nlu.BenchCharTokenizer"
            component.pop("dictionary_path", None)
        if epochs and component["name"] in ("DIETClassifier", "ResponseSelector"):
            component["epochs"] = epochs
    config.pop("policies", None)
    return config


def train_and_parse(config: dict, train, test: list[Message], workdir: Path) -> list[dict]:
    import rasa.model_training
    import rasa.shared.utils.io
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter

    config_file = workdir / "config.yml"
    rasa.shared.utils.io.write_yaml(config, config_file)
    data_file = workdir / "train.yml"
    RasaYAMLWriter().dump(data_file, train)
    model = rasa.model_training.train_nlu(
        str(config_file), str(data_file), str(workdir), fixed_model_name="fold"
    )
    agent = Agent.load(model)

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(m.get("text")) for m in test]

    return asyncio.run(parse_all())


def undo_fallback(result: dict) -> dict:
    from rasa.nlu.classifiers import fallback_classifier

    if fallback_classifier.is_fallback_classifier_prediction(result):
        return fallback_classifier.undo_fallback_prediction(result)
    return result


# --- metrics -------------------------------------------------------------------------------

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def top_two_gap(result: dict) -> tuple[float, float]:
    """The top intent's confidence and its lead over the second (FallbackClassifier's tests)."""
    ranking = [r["confidence"] for r in result.get("intent_ranking") or [result["intent"]]]
    return ranking[0], ranking[0] - (ranking[1] if len(ranking) > 1 else 0.0)


def threshold_table(confidences: list[tuple[tuple[float, float], bool]]) -> dict[str, dict]:
    """Per fallback threshold (ambiguity 0.1): the share of messages answered, how many of
    those are right, and how many that would fall back were right."""
    table = {}
    for threshold in THRESHOLDS:
        answered = [ok for (top, gap), ok in confidences if top >= threshold and gap >= 0.1]
        held = len(confidences) - len(answered)
        right = sum(ok for _, ok in confidences) - sum(answered)
        table[f"{threshold:.1f}"] = {
            "answered": len(answered) / len(confidences),
            "answered_accuracy": sum(answered) / len(answered) if answered else 0.0,
            "fallbacks": held,
            "fallbacks_right": right,
        }
    return table


def normalise(value: Any, synonyms: dict[str, str]) -> str:
    value = str(value)
    return synonyms.get(value.lower(), value)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def score(examples: list[Message], results: list[dict], synonyms: dict[str, str]) -> dict:
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    gold_intents, pred_intents, fallbacks, errors = [], [], 0, []
    confidences: list[tuple[tuple[float, float], bool]] = []
    rs_total = rs_correct = faq_end_to_end = 0
    span = defaultdict(lambda: [0, 0, 0])  # entity -> tp, fp, fn
    value_total: Counter = Counter()
    value_correct: Counter = Counter()

    for example, raw in zip(examples, results, strict=True):
        text = example.get("text")
        fallbacks += raw["intent"]["name"] == "nlu_fallback"
        result = undo_fallback(raw)
        gold = example.get("intent")
        pred = result["intent"]["name"]
        confidences.append((top_two_gap(result), pred == gold))
        gold_intents.append(gold)
        pred_intents.append(pred)
        problems = []
        if pred != gold:
            problems.append(f"intent {pred} (gold {gold})")

        if gold == "faq":
            selector = result.get("response_selector", {})
            chosen = selector.get("faq", selector.get("default", {}))
            key = chosen.get("response", {}).get("intent_response_key")
            rs_total += 1
            rs_correct += key == example.get_full_intent()
            faq_end_to_end += key == example.get_full_intent() and pred == "faq"
            if key != example.get_full_intent():
                problems.append(f"response {key} (gold {example.get_full_intent()})")

        gold_entities = example.get("entities") or []
        pred_entities = [
            e for e in result.get("entities", []) if e.get("extractor") != "RegexEntityExtractor"
        ]
        gold_spans = Counter((e["entity"], e["start"], e["end"]) for e in gold_entities)
        pred_spans = Counter((e["entity"], e["start"], e["end"]) for e in pred_entities)
        for key in gold_spans | pred_spans:
            tp = min(gold_spans[key], pred_spans[key])
            span[key[0]][0] += tp
            span[key[0]][1] += pred_spans[key] - tp
            span[key[0]][2] += gold_spans[key] - tp
        if gold_spans != pred_spans:
            problems.append(
                "entities "
                + str(sorted((e["entity"], text[e["start"] : e["end"]]) for e in pred_entities))
                + " (gold "
                + str(sorted((e["entity"], text[e["start"] : e["end"]]) for e in gold_entities))
                + ")"
            )
        for entity in VALUE_ENTITIES:
            gold_values = sorted(
                normalise(e["value"], synonyms) for e in gold_entities if e["entity"] == entity
            )
            if not gold_values:
                continue
            pred_values = sorted(str(e["value"]) for e in pred_entities if e["entity"] == entity)
            value_total[entity] += 1
            value_correct[entity] += pred_values == gold_values
            if pred_values != gold_values:
                problems.append(f"{entity} values {pred_values} (gold {gold_values})")
        if problems:
            errors.append({"text": text, "intent": example.get_full_intent(), "errors": problems})

    labels = sorted(set(gold_intents))
    p, r, f, support = precision_recall_fscore_support(
        gold_intents, pred_intents, labels=labels, zero_division=0
    )
    entities = {}
    for entity, (tp, fp, fn) in sorted(span.items()):
        ep, er, ef = prf(tp, fp, fn)
        entities[entity] = {"precision": ep, "recall": er, "f1": ef, "support": tp + fn}
    all_tp, all_fp, all_fn = (sum(v[i] for v in span.values()) for i in range(3))
    return {
        "n": len(examples),
        "intent_macro_f1": f1_score(
            gold_intents, pred_intents, labels=labels, average="macro", zero_division=0
        ),
        "intent_accuracy": sum(g == q for g, q in zip(gold_intents, pred_intents, strict=True))
        / len(examples),
        "fallbacks": fallbacks,
        "thresholds": threshold_table(confidences),
        "intents": {
            label: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(support[i])}
            for i, label in enumerate(labels)
        },
        "response_selector_accuracy": rs_correct / rs_total if rs_total else 0.0,
        "faq_end_to_end_accuracy": faq_end_to_end / rs_total if rs_total else 0.0,
        "faq_examples": rs_total,
        "entities": entities,
        "entity_micro_f1": prf(all_tp, all_fp, all_fn)[2],
        "value_accuracy": {
            e: value_correct[e] / value_total[e] for e in VALUE_ENTITIES if value_total[e]
        },
        "value_support": {e: value_total[e] for e in VALUE_ENTITIES if value_total[e]},
        "errors": errors,
    }


def cross_validate(name: str, config: dict, data, folds: list[list[int]]) -> dict:
    examples = data.intent_examples
    all_test: list[Message] = []
    all_results: list[dict] = []
    started = time.monotonic()
    for i, test_idx in enumerate(folds, 1):
        held_out = set(test_idx)
        train_idx = [j for j in range(len(examples)) if j not in held_out]
        fold_start = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="nlu-cv-") as tmp:
            test = [examples[j] for j in test_idx]
            results = train_and_parse(config, fold_data(data, examples, train_idx), test, Path(tmp))
        all_test += test
        all_results += results
        print(
            f"  [{name}] fold {i}/{len(folds)}: trained on {len(train_idx)}, "
            f"tested on {len(test_idx)} ({time.monotonic() - fold_start:.0f} s)",
            flush=True,
        )
    report = score(all_test, all_results, data.entity_synonyms)
    report["seconds"] = time.monotonic() - started
    return report


def score_holdout(config: dict, data, holdout: Path) -> dict:
    """Train on all the data once and score the examples of a separate held-out file."""
    test = load_training_data(holdout).intent_examples
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="nlu-holdout-") as tmp:
        results = train_and_parse(config, data, test, Path(tmp))
    report = score(test, results, data.entity_synonyms)
    report["seconds"] = time.monotonic() - started
    return report


# --- output --------------------------------------------------------------------------------


def print_report(name: str, report: dict, intents_only: bool = False) -> None:
    print(f"\n=== {name} ({report['n']} held-out examples, {report['seconds']:.0f} s) ===")
    print(
        f"intent macro-F1: {report['intent_macro_f1']:.4f}   accuracy: "
        f"{report['intent_accuracy']:.4f}   (below the fallback threshold: "
        f"{report['fallbacks']})"
    )
    print("  fallback threshold (ambiguity 0.1): answered, their accuracy, fallbacks (right)")
    for threshold, row in report["thresholds"].items():
        print(
            f"    {threshold}: {row['answered']:.3f}, {row['answered_accuracy']:.4f}, "
            f"{row['fallbacks']} ({row['fallbacks_right']})"
        )
    print(f"  {'intent':<18}{'precision':>10}{'recall':>9}{'F1':>9}{'n':>6}")
    for label, m in report["intents"].items():
        print(
            f"  {label:<18}{m['precision']:>10.3f}{m['recall']:>9.3f}{m['f1']:>9.3f}"
            f"{m['support']:>6}"
        )
    print(
        f"FAQ answer (faq sub-intent) accuracy: "
        f"{report['response_selector_accuracy']:.4f} over {report['faq_examples']} FAQ "
        f"examples (intent faq and right answer: {report['faq_end_to_end_accuracy']:.4f})"
    )
    if intents_only:
        return
    print(f"entities (exact span), micro-F1 {report['entity_micro_f1']:.4f}:")
    print(f"  {'entity':<18}{'precision':>10}{'recall':>9}{'F1':>9}{'n':>6}")
    for entity, m in report["entities"].items():
        print(
            f"  {entity:<18}{m['precision']:>10.3f}{m['recall']:>9.3f}{m['f1']:>9.3f}"
            f"{m['support']:>6}"
        )
    print("normalised value accuracy (examples annotated with the entity):")
    for entity, acc in report["value_accuracy"].items():
        print(f"  {entity:<18}{acc:>10.4f}   over {report['value_support'][entity]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", default=str(ROOT / "config.yml"))
    parser.add_argument("--data", default=str(ROOT / "data"))
    parser.add_argument("--out", default=str(ROOT / "var" / "nlu-cv"))
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline run")
    parser.add_argument(
        "--intents-only",
        action="store_true",
        help="cross-validate what decides the intent and the FAQ answer only (no entities)",
    )
    parser.add_argument(
        "--holdout",
        nargs="?",
        const=str(ROOT / "bench" / "holdout_nlu.yml"),
        default=None,
        help="also train on all the data and score this separate file "
        "(default bench/holdout_nlu.yml, written without sight of data/)",
    )
    parser.add_argument(
        "--baseline-epochs",
        type=int,
        default=None,
        help="epochs of the baseline's DIET/ResponseSelector (default: as config.yml)",
    )
    args = parser.parse_args(argv)

    logging.getLogger().setLevel(logging.WARNING)
    for noisy in ("rasa", "tensorflow", "absl", "jieba"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    configure_structlog(logging.WARNING)  # Rasa's structured log: one line per parse
    import rasa.shared.utils.io

    # Make the baseline tokenizer resolvable as bench.nlu.BenchCharTokenizer.
    if __name__ == "__main__":
        importlib.import_module("bench.nlu")

    os.chdir(ROOT)  # config.yml's dictionary_path is relative to the project
    config = rasa.shared.utils.io.read_yaml_file(args.config)
    config.pop("policies", None)
    if args.intents_only:
        config = intents_only_config(config)
    data = load_training_data(Path(args.data))
    examples = data.intent_examples
    folds = make_folds(examples, args.folds, args.seed)
    counts = Counter(m.get("intent") for m in examples)
    print(
        f"{len(examples)} examples, {len(counts)} intents, "
        f"{len({m.get_full_intent() for m in examples if m.get('intent') == 'faq'})} FAQ "
        f"answers; {args.folds}-fold stratified CV (seed {args.seed})",
        flush=True,
    )

    started = time.monotonic()
    ours = cross_validate("ours", config, data, folds)
    baseline = None
    if not args.no_baseline:
        baseline = cross_validate(
            "baseline", baseline_config(config, args.baseline_epochs), data, folds
        )
    holdout = score_holdout(config, data, Path(args.holdout)) if args.holdout else None
    total = time.monotonic() - started

    scope = ", intents only" if args.intents_only else ""
    print_report(
        f"ours: config.yml (BilingualTokenizer, Jieba + project dictionary){scope}",
        ours,
        args.intents_only,
    )
    if baseline:
        epochs = f", {args.baseline_epochs} epochs" if args.baseline_epochs else ""
        print_report(
            f"baseline: character tokens, no dictionary{epochs}{scope}", baseline, args.intents_only
        )
        print("\n=== ours / baseline ===")
        for label, key in (
            ("intent macro-F1", "intent_macro_f1"),
            ("FAQ answer accuracy", "response_selector_accuracy"),
            ("entity micro-F1", "entity_micro_f1"),
        ):
            b = baseline[key]
            ratio = f"{ours[key] / b:.3f}" if b else "n/a"
            print(f"  {label:<28}{ours[key]:.4f} / {b:.4f} = {ratio}")
        for entity in ours["value_accuracy"]:
            o, b = ours["value_accuracy"][entity], baseline["value_accuracy"].get(entity, 0.0)
            ratio = f"{o / b:.3f}" if b else "n/a"
            print(f"  {entity + ' value accuracy':<28}{o:.4f} / {b:.4f} = {ratio}")

    if holdout:
        print_report(f"held-out file {args.holdout}, trained on all of data/{scope}", holdout, True)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(
            {
                "folds": args.folds,
                "seed": args.seed,
                "seconds": total,
                "ours": {k: v for k, v in ours.items() if k != "errors"},
                "baseline": {k: v for k, v in baseline.items() if k != "errors"}
                if baseline
                else None,
                "holdout": {k: v for k, v in holdout.items() if k != "errors"} if holdout else None,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    (out / "errors.json").write_text(json.dumps(ours["errors"], ensure_ascii=False, indent=2))
    if holdout:
        (out / "holdout-errors.json").write_text(
            json.dumps(holdout["errors"], ensure_ascii=False, indent=2)
        )

    service_acc = ours["value_accuracy"].get("service_type", 0.0)
    passed = ours["intent_macro_f1"] >= TARGET_INTENT_F1 and (
        args.intents_only or service_acc >= TARGET_SERVICE_TYPE_ACC
    )
    service = (
        "service_type not scored (intents only)"
        if args.intents_only
        else f"service_type value accuracy {service_acc:.4f} >= {TARGET_SERVICE_TYPE_ACC}"
    )
    print(
        f"\ntargets: intent macro-F1 {ours['intent_macro_f1']:.4f} >= {TARGET_INTENT_F1}, "
        f"{service}: {'PASS' if passed else 'FAIL'}"
    )
    print(f"total {total / 60:.1f} min; held-out errors in {out / 'errors.json'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
