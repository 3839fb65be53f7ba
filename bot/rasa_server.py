"""`rasa` with the action server's replies checked by one pre-built JSON-schema validator.

    python -m bot.rasa_server run --enable-api …    (the same arguments as `rasa`)

Rasa 3.6 checks every reply of the action server with `jsonschema.validate(reply,
schema)`, which first re-checks the schema itself against its meta-schema: with
jsonschema 4.17 that is 27–40 ms of CPU per action call, most of a turn's cost (a form
turn makes three calls). Here `RemoteAction._validate_action_result` uses a validator
built once for the same schema, so the same replies pass and fail, with the same error
message, for about a tenth of the CPU (measured in bench/assistant.py; see
docs/performance.md). Nothing else of Rasa changes. The Procfile and the tests start the
Rasa server through this module; `rasa train` and `rasa test` need no change.
"""

from __future__ import annotations

import runpy
import sys
from functools import cache
from typing import Any

from jsonschema import ValidationError, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@cache
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, not on every reply
    return validator_class(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` of Rasa 3.6, with the validator built once."""
    try:
        _validator().validate(result)
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


def main() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    sys.argv = ["rasa", *sys.argv[1:]]
    runpy.run_module("rasa", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
