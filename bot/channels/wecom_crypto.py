"""WeCom's callback crypto (企业微信 回调加解密, developer.work.weixin.qq.com/document/path/90968),
with `cryptography`.

- signature: SHA-1 of the sorted token, timestamp, nonce and encrypted message, joined;
- message: AES-256-CBC, key = base64(EncodingAESKey + "="), IV = the key's first 16 bytes,
  PKCS#7 padding to 32-byte blocks; the plaintext is 16 random bytes, the message length
  (4 bytes, network order), the message, then the receiver id (the corp id), which must
  match ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CallbackRefused(ValueError):
    """Not a callback for us: undecryptable, malformed, or for another receiver."""


class ForgedSignature(CallbackRefused):
    """The signature is not ours: not from WeCom."""


class WecomCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        try:
            self._key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except ValueError as exc:
            raise ValueError("WECOM_ENCODING_AES_KEY is not WeCom's 43-character key") from exc
        if len(self._key) != 32:
            raise ValueError("WECOM_ENCODING_AES_KEY is not WeCom's 43-character key")
        self._token = token
        self._receive_id = receive_id

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        parts = sorted([self._token, timestamp, nonce, encrypted])
        return hashlib.sha1("".join(parts).encode()).hexdigest()

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, message: str) -> str:
        body = message.encode()
        plain = os.urandom(16) + struct.pack("!I", len(body)) + body + self._receive_id.encode()
        pad = BLOCK - len(plain) % BLOCK
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            sealed = base64.b64decode(encrypted, validate=True)
            decryptor = self._cipher().decryptor()
            plain = decryptor.update(sealed) + decryptor.finalize()
        except ValueError as exc:
            raise CallbackRefused("the message cannot be decrypted") from exc
        pad = plain[-1] if plain else 0
        if not 1 <= pad <= BLOCK or len(plain) < 20 + pad or plain[-pad:] != bytes([pad]) * pad:
            raise CallbackRefused("the message cannot be decrypted")
        plain = plain[:-pad]
        (length,) = struct.unpack("!I", plain[16:20])
        message, receiver = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise CallbackRefused("the message cannot be decrypted")
        if not hmac.compare_digest(receiver, self._receive_id.encode()):
            raise CallbackRefused("the message is for another receiver")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise CallbackRefused("the message cannot be decrypted") from exc

    def open(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """The plaintext of a signed callback: `ForgedSignature` if the signature is not
        ours, `CallbackRefused` if it cannot be ours to read."""
        expected = self.signature(timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise ForgedSignature("wrong signature")
        return self.decrypt(encrypted)
