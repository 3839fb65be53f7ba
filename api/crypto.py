"""Field encryption and keyed hashing of personal data (S11.1).

One master key (`SECRET_KEY`) is stretched with HKDF into independent subkeys:
- a Fernet key that encrypts names, phones, addresses and free text at rest;
- an HMAC key for blind indexes (find a customer by phone without storing it);
- a signing key for staff access tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(master: str, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
        master.encode()
    )


@dataclass(frozen=True)
class Keyring:
    fernet: Fernet
    index_key: bytes
    token_key: bytes

    @classmethod
    def from_master(cls, master: str) -> Keyring:
        if len(master) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters")
        return cls(
            fernet=Fernet(base64.urlsafe_b64encode(_derive(master, "servicedesk/fernet"))),
            index_key=_derive(master, "servicedesk/blind-index"),
            token_key=_derive(master, "servicedesk/access-token"),
        )


_keyring: Keyring | None = None


def configure(master: str) -> None:
    """Install the keyring used by encrypted columns; called once at start-up."""
    global _keyring
    _keyring = Keyring.from_master(master)


def keyring() -> Keyring:
    if _keyring is None:
        raise RuntimeError("api.crypto.configure() has not been called")
    return _keyring


def encrypt(plaintext: str) -> str:
    return keyring().fernet.encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return keyring().fernet.decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:  # wrong SECRET_KEY or a tampered value
        raise ValueError("stored value cannot be decrypted with this SECRET_KEY") from exc


def blind_index(value: str) -> str:
    """Keyed hash of a normalised value, for equality search on encrypted data."""
    return hmac.new(keyring().index_key, value.encode(), hashlib.sha256).hexdigest()


def digest(value: str) -> str:
    """Plain SHA-256 (for the audit chain, not for secrets)."""
    return hashlib.sha256(value.encode()).hexdigest()
