"""WeCom's callback crypto against the sample values published with its official sample code
(Tencent's WXBizMsgCrypt samples; the protocol at
https://developer.work.weixin.qq.com/document/path/90968): token "QDG6eK", corp id
"wx5823bf96d3bd56c7", EncodingAESKey "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"."""

from __future__ import annotations

import pytest

from bot.channels.wecom_crypto import CallbackRefused, WecomCrypto

TOKEN = "QDG6eK"
CORP_ID = "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

# "verify the URL": GET with msg_signature, timestamp, nonce, echostr
VERIFY = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    ),
}
VERIFY_PLAINTEXT = "1616140317555161061"

# "decrypt a message the user sent": POST with the encrypted XML
REQUEST = {
    "msg_signature": "477715d11cdb4164915debcba66cb864d751f3e6",
    "timestamp": "1409659813",
    "nonce": "1372623149",
    "encrypted": (
        "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qc"
        "zcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8"
        "qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4"
        "LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+"
        "rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0l"
        "XdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
    ),
}


@pytest.fixture
def crypto() -> WecomCrypto:
    return WecomCrypto(TOKEN, AES_KEY, CORP_ID)


def test_the_published_url_verification_decrypts_as_documented(crypto):
    plaintext = crypto.open(
        VERIFY["msg_signature"], VERIFY["timestamp"], VERIFY["nonce"], VERIFY["echostr"]
    )
    assert plaintext == VERIFY_PLAINTEXT


def test_the_published_message_decrypts_as_documented(crypto):
    xml = crypto.open(
        REQUEST["msg_signature"], REQUEST["timestamp"], REQUEST["nonce"], REQUEST["encrypted"]
    )
    assert "<Content><![CDATA[hello]]></Content>" in xml
    assert "<MsgId>4561255354251345929</MsgId>" in xml
    assert "<FromUserName><![CDATA[mycreate]]></FromUserName>" in xml


def test_a_forged_signature_is_refused(crypto):
    with pytest.raises(CallbackRefused, match="signature"):
        crypto.open("0" * 40, REQUEST["timestamp"], REQUEST["nonce"], REQUEST["encrypted"])
    with pytest.raises(CallbackRefused, match="signature"):  # a replay with another nonce
        crypto.open(REQUEST["msg_signature"], REQUEST["timestamp"], "1", REQUEST["encrypted"])


def test_a_message_for_another_corp_is_refused():
    other = WecomCrypto(TOKEN, AES_KEY, "ww-another-corp")
    with pytest.raises(CallbackRefused, match="another receiver"):
        other.open(
            REQUEST["msg_signature"], REQUEST["timestamp"], REQUEST["nonce"], REQUEST["encrypted"]
        )


def test_round_trip_with_chinese_and_garbage(crypto):
    message = "<xml><Content><![CDATA[洗衣机漏水了，地板都泡了]]></Content></xml>"
    sealed = crypto.encrypt(message)
    assert crypto.decrypt(sealed) == message
    assert crypto.encrypt(message) != sealed  # 16 random bytes first
    signature = crypto.signature("1700000000", "nonce", sealed)
    assert crypto.open(signature, "1700000000", "nonce", sealed) == message
    for garbage in ("not base64!", "QUJD", sealed[:-8] + "AAAAAAA="):
        with pytest.raises(CallbackRefused):
            crypto.decrypt(garbage)


def test_a_wrong_key_is_a_configuration_error():
    with pytest.raises(ValueError, match="43-character"):
        WecomCrypto(TOKEN, "too-short", CORP_ID)
