"""WeCom's callback crypto against the sample values published with Tencent's official
WXBizMsgCrypt sample code, which must decrypt as documented (the protocol:
https://developer.work.weixin.qq.com/document/path/90968).

Two published sets:
- the 企业号 samples' (Tencent's WXBizMsgCrypt C# `Sample.cs` and PHP sample, the request
  repeated in the example of document 90968): token "QDG6eK", corp id "wx5823bf96d3bd56c7",
  EncodingAESKey "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", the URL verification
  `msg_signature=5c45ff5e…&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzy…` and
  the request `msg_signature=477715d1…&timestamp=1409659813&nonce=1372623149`;
- the 企业微信 samples' (the Python library the API docs link, github.com/sbzhu/
  weworkapi_python, `callback/Sample.py`): token
  "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", corp id "ww1436e0e65a779aee", EncodingAESKey
  "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", sVerifyMsgSig/TimeStamp/Nonce/EchoStr
  and sReqMsgSig/TimeStamp/Nonce/Data (the message of "ChenJiaShun", "你好").
"""

from __future__ import annotations

import pytest

from bot.channels.wecom_crypto import CallbackRefused, ForgedSignature, WecomCrypto

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


# the 企业微信 Python sample (sbzhu/weworkapi_python callback/Sample.py)
WW = {"token": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "corp_id": "ww1436e0e65a779aee",
      "aes_key": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"}  # fmt: skip
WW_VERIFY = (
    "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "1476416373",
    "47744683",
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
)
WW_REQUEST = (
    "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "1476422779",
    "1597212914",
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzB"
    "hzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3J"
    "WcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4i"
    "QHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDP"
    "OYuPDGOCI8jmnKiypE+",
)


def test_the_wecom_python_sample_decrypts_as_documented():
    crypto = WecomCrypto(WW["token"], WW["aes_key"], WW["corp_id"])
    assert crypto.open(*WW_VERIFY) == "1288432023552776189"  # the echostr's plaintext
    message = crypto.open(*WW_REQUEST)
    assert message == (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun"
        "</FromUserName><CreateTime>1476422779</CreateTime><MsgType>text</MsgType>"
        "<Content>你好</Content><MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
    )


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
    with pytest.raises(ForgedSignature):
        crypto.open("0" * 40, REQUEST["timestamp"], REQUEST["nonce"], REQUEST["encrypted"])
    with pytest.raises(ForgedSignature):  # a replay with another nonce
        crypto.open(REQUEST["msg_signature"], REQUEST["timestamp"], "1", REQUEST["encrypted"])
    other_token = WecomCrypto("another-token", AES_KEY, CORP_ID)
    with pytest.raises(ForgedSignature):
        other_token.open(
            REQUEST["msg_signature"], REQUEST["timestamp"], REQUEST["nonce"], REQUEST["encrypted"]
        )


def test_a_message_for_another_corp_is_refused():
    other = WecomCrypto(TOKEN, AES_KEY, "ww-another-corp")
    with pytest.raises(CallbackRefused, match="another receiver") as refused:
        other.open(
            REQUEST["msg_signature"], REQUEST["timestamp"], REQUEST["nonce"], REQUEST["encrypted"]
        )
    assert not isinstance(refused.value, ForgedSignature)  # signed right, not for us: 400
    ww = WecomCrypto(WW["token"], WW["aes_key"], "wx5823bf96d3bd56c7")
    with pytest.raises(CallbackRefused, match="another receiver"):
        ww.open(*WW_REQUEST)


def test_round_trip_with_chinese_and_garbage(crypto):
    message = "<xml><Content><![CDATA[洗衣机漏水了，地板都泡了]]></Content></xml>"
    sealed = crypto.encrypt(message)
    assert crypto.decrypt(sealed) == message
    assert crypto.encrypt(message) != sealed  # 16 random bytes first
    signature = crypto.signature("1700000000", "nonce", sealed)
    assert crypto.open(signature, "1700000000", "nonce", sealed) == message
    other_key = WecomCrypto(TOKEN, WW["aes_key"], CORP_ID).encrypt(message)
    for garbage in ("not base64!", "QUJD", sealed[:-8] + "AAAAAAA=", "", other_key):
        with pytest.raises(CallbackRefused):
            crypto.decrypt(garbage)


def test_a_wrong_key_is_a_configuration_error():
    with pytest.raises(ValueError, match="43-character"):
        WecomCrypto(TOKEN, "too-short", CORP_ID)
