"""bot.rasa_server: the action server's replies are checked as stock Rasa checks them."""

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_server import _validate_action_result

VALID = {
    "events": [{"event": "slot", "name": "language", "value": "en"}],
    "responses": [{"text": "Hello"}],
}
INVALID = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"responses": ["not an object"]},
]


ACTION = RemoteAction("action_test", None)


def stock(result: dict) -> bool:
    return RemoteAction._validate_action_result(ACTION, result)


def test_a_valid_reply_passes_both():
    assert stock(VALID) is True and _validate_action_result(ACTION, VALID) is True


@pytest.mark.parametrize("reply", INVALID)
def test_an_invalid_reply_fails_both_with_the_same_message(reply):
    with pytest.raises(ValidationError) as ours:
        _validate_action_result(ACTION, reply)
    with pytest.raises(ValidationError) as theirs:
        stock(reply)
    assert ours.value.message == theirs.value.message
