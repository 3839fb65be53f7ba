"""Run the Rasa test stories (tests/stories/test_*.yml) against the trained model.

`make test-stories` runs `PYTHONPATH=. .venv-rasa/bin/python -m tests.rasa_stories`, which runs

    rasa test core --e2e --stories tests/stories --model models/current.tar.gz --out <dir>

and exits non-zero, naming each failed story and step, when any prediction is wrong.

How Rasa 3.6 evaluates the stories (rasa/core/test.py, rasa/cli/test.py):

- `--e2e` makes `rasa test core` read the stories as conversation tests (only files named
  `test_*`) and parse the text of each `user:` step with the model's NLU: the predicted
  intent (with the retrieval intent, e.g. `faq/warranty_period`) and the entities must equal
  the story's. Without it the story's intent is used as given and NLU is never checked.
  A wrong intent is recorded and the dialogue goes on with the story's intent, so the
  actions after it are still evaluated.
- `--fail-on-prediction-errors` raises on the first wrong prediction: the run stops there
  and writes no `failed_test_stories.yml`. By default this runner evaluates every story
  and fails itself afterwards; `--fail-fast` passes the flag instead.
- No custom action is run (what they would set is written in the stories as
  `slot_was_set`), and `rasa test core` loads the model without endpoints.yml, so no
  action server is needed. `ACTION_SERVER_URL` is set to an unreachable address all the
  same, so that nothing could ever call a real one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORIES = ROOT / "tests" / "stories"
MODEL = ROOT / "models" / "current.tar.gz"
FAILED_FILE = "failed_test_stories.yml"
REPORT_FILE = "story_report.json"
UNREACHABLE_ACTION_SERVER = "http://127.0.0.1:9/webhook"  # port 9 (discard): nothing listens

# Rasa's writer marks a user step whose entities differ only when the story gives none or
# when a predicted entity starts where the story's does with another type.
NO_MARK = "NLU    the entities of a user step differ (Rasa marks no step): compare with the story"
NOTE = "Rasa does not mark every entity difference: compare the file with the story"
_STORY = re.compile(r"^- story: (?P<name>.*?)(?: \((?P<source>[^()]*)\))?$")
_PREDICTED = re.compile(r"^\s*-?\s*(?P<step>.*?)\s+# predicted: (?P<predicted>.*)$")


def default_out_dir() -> Path:
    """Under VAR_DIR (var/ by default, as in the Makefile), kept for inspection."""
    return ROOT / os.environ.get("VAR_DIR", "var") / "rasa-test-stories"


def count_stories(directory: Path) -> int:
    """Stories in the files `rasa test --e2e` reads (named `test_*`)."""
    return sum(
        len(re.findall(r"^\s*- story:", path.read_text(encoding="utf-8"), re.MULTILINE))
        for path in sorted(directory.rglob("test_*.y*ml"))
    )


def rasa_command(stories: Path, model: Path, out: Path, fail_fast: bool) -> list[str]:
    cmd = [sys.executable, "-m", "rasa", "test", "core", "--e2e", "--no-plot"]
    cmd += ["--stories", str(stories), "--model", str(model), "--out", str(out)]
    return cmd + (["--fail-on-prediction-errors"] if fail_fast else [])


def failures(failed_yaml: str) -> list[tuple[str, list[str]]]:
    """(story, its wrong steps) from failed_test_stories.yml, where Rasa marks each wrong
    step with `# predicted: ...` (a user step: the predicted intent and entities)."""
    found: list[tuple[str, list[str]]] = []
    for line in failed_yaml.splitlines():
        if story := _STORY.match(line):
            source = story["source"]
            name = story["name"] + (f"  ({Path(source).name})" if source else "")
            found.append((name, []))
        elif (wrong := _PREDICTED.match(line)) and found:
            step, predicted = wrong["step"], wrong["predicted"]
            if not step.startswith("intent:"):
                found[-1][1].append(f"action expected {step}   predicted {predicted}")
                continue
            expected = step.removeprefix("intent:").strip()
            if predicted.startswith(f"{expected}: "):  # right intent, other entities
                what = "entities differ, predicted"
                predicted = predicted.removeprefix(f"{expected}: ")
            else:
                what = "predicted"
            found[-1][1].append(f"NLU    expected intent {expected}   {what} {predicted}")
    return found


def conversation_accuracy(out: Path) -> dict[str, int] | None:
    try:
        report = json.loads((out / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report.get("conversation_accuracy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stories", type=Path, default=STORIES)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument(
        "--out", type=Path, default=None, help="default: $VAR_DIR/rasa-test-stories"
    )
    parser.add_argument(
        "--fail-fast",
        action="store_true",
        help="pass --fail-on-prediction-errors: stop at the first wrong prediction",
    )
    args = parser.parse_args(argv)
    out: Path = args.out or default_out_dir()

    if not args.model.is_file():
        print(f"no model at {args.model}: run `make train` first", file=sys.stderr)
        return 2
    expected = count_stories(args.stories)
    if expected == 0:
        print(f"no test stories (test_*.yml) under {args.stories}", file=sys.stderr)
        return 2

    shutil.rmtree(out, ignore_errors=True)  # no stale results from an earlier run
    out.mkdir(parents=True)
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONPATH=str(ROOT))
    env["ACTION_SERVER_URL"] = UNREACHABLE_ACTION_SERVER  # even when make exported a real one
    cmd = rasa_command(args.stories, args.model, out, args.fail_fast)
    print("==>", " ".join(cmd), flush=True)
    started = time.monotonic()
    result = subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    elapsed = time.monotonic() - started

    failed_path = out / FAILED_FILE
    failed_yaml = failed_path.read_text(encoding="utf-8") if failed_path.is_file() else ""
    failed = failures(failed_yaml)
    accuracy = conversation_accuracy(out)  # the verdict; the file only says where

    if result.returncode != 0 or accuracy is None:
        # with --fail-fast, Rasa printed the failed story (and no file is written)
        print(f"\nrasa test core exited with {result.returncode} after {elapsed:.0f} s", end="")
        print(" (a wrong prediction: see the story above)" if args.fail_fast else "")
        return result.returncode or 2
    total, correct = accuracy["total"], accuracy["correct"]
    if total != expected:
        print(f"\n{expected} stories in {args.stories}, but Rasa evaluated {total}")
        return 2
    if correct != total or failed:
        print(f"\n---- {failed_path} ----\n{failed_yaml.rstrip()}\n---- end ----")
        print(f"\n{total - correct} of {total} test stories FAILED ({elapsed:.0f} s):")
        for name, steps in failed:
            print(f"\n  {name}")
            for step in steps or [NO_MARK]:
                print(f"    {step}")
        print(f"\n(an NLU step shows the predicted intent and entities; {NOTE})")
        return 1
    print(f"\nall {total} test stories passed ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
