"""BilingualTokenizer: Chinese, English and mixed text, with the project dictionary."""

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.tokenizer import BilingualTokenizer, fold_width

DICTIONARY = Path(__file__).resolve().parents[2] / "data" / "dictionary"


@pytest.fixture
def storage(tmp_path) -> LocalModelStorage:
    return LocalModelStorage(tmp_path)


def tokenizer(
    storage, dictionary: Path | None = DICTIONARY, apart: list[str] | None = None
) -> BilingualTokenizer:
    config = {
        **BilingualTokenizer.get_default_config(),
        "dictionary_path": dictionary,
        "single_character_words": apart or [],
    }
    return BilingualTokenizer.create(config, storage, Resource("tokenizer"), ExecutionContext(None))


def words(t: BilingualTokenizer, text: str) -> list[str]:
    return [token.text for token in t.tokenize(Message(data={"text": text}), "text")]


def test_english_words_and_no_whitespace_tokens(storage):
    assert words(tokenizer(storage), "my washer  doesn't drain") == [
        "my", "washer", "doesn't", "drain",
    ]  # fmt: skip


def test_codes_references_and_phones_stay_whole(storage):
    t = tokenizer(storage)
    assert words(t, "KFR-35GW空调坏了") == ["KFR-35GW", "空调", "坏", "了"]
    assert "CS-20261124-0007" in words(t, "查询工单CS-20261124-0007")
    assert "+8613800138000" in words(t, "电话+8613800138000")


def test_mixed_text_and_the_project_dictionary(storage):
    t = tokenizer(storage)
    assert words(t, "我要转人工") == ["我要", "转人工"]  # a dictionary word
    assert words(t, "三包期内repair免费吗") == ["三包期", "内", "repair", "免费", "吗"]


def test_single_character_words_are_not_glued_into_guessed_words(storage):
    plain, apart = tokenizer(storage), tokenizer(storage, apart=["修", "装", "换"])
    # Jieba's HMM guesses 来修 and 要换, words its dictionary does not have.
    assert "来修" in words(plain, "能不能派个师傅来修一下冰箱")
    assert words(apart, "能不能派个师傅来修一下冰箱")[-4:] == ["来", "修", "一下", "冰箱"]
    assert words(apart, "净水机提示要换滤芯了") == ["净水机", "提示", "要", "换", "滤芯", "了"]
    tokens = apart.tokenize(Message(data={"text": "找人修下洗衣机"}), "text")
    assert [(t.text, t.start) for t in tokens] == [("找人", 0), ("修", 2), ("下", 3), ("洗衣机", 4)]
    # Words the dictionaries have stay whole.
    assert words(apart, "修好没两天又漏水") == words(plain, "修好没两天又漏水")
    assert "换货" in words(apart, "我要换货")


def test_single_character_words_must_be_single_characters(storage):
    with pytest.raises(ValueError, match="single characters"):
        tokenizer(storage, apart=["维修"])


def test_full_width_text_keeps_the_customers_offsets(storage):
    text = "型号ＫＦＲ－３５ＧＷ，漏水"
    tokens = tokenizer(storage).tokenize(Message(data={"text": text}), "text")
    model = next(token for token in tokens if token.text == "KFR-35GW")
    assert text[model.start : model.end] == "ＫＦＲ－３５ＧＷ"
    assert fold_width(text) == "型号KFR-35GW,漏水"


def test_the_dictionary_travels_with_the_model(storage):
    trained = tokenizer(storage)
    trained.train(TrainingData())
    loaded = BilingualTokenizer.load(
        BilingualTokenizer.get_default_config(), storage, Resource("tokenizer"),
        ExecutionContext(None),
    )  # fmt: skip
    assert words(loaded, "我要转人工") == ["我要", "转人工"]


def test_a_missing_dictionary_directory_is_a_clear_error(storage, tmp_path):
    with pytest.raises(ValueError, match="not a directory"):
        tokenizer(storage, tmp_path / "nowhere")
