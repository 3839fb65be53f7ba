"""A logging filter that keeps personal data out of every log line (S11.1).

Defence in depth: the code never logs personal data on purpose, and this filter
masks phone numbers and e-mail addresses in anything that slips through (access
logs of a URL with a query string, exception messages …).
"""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"),  # Chinese mobile numbers
    re.compile(r"(?<![\d-])0\d{2,3}-?\d{7,8}(?!\d)"),  # Chinese landlines
    re.compile(r"\+\d[\d\s-]{6,16}\d"),  # international (E.164) numbers
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail addresses
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install(level: str = "INFO") -> None:
    """Attach the filter to every handler of the root and the uvicorn loggers."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # SQLAlchemy logs decrypted result rows at DEBUG: never below INFO for it
    engine_log = logging.getLogger("sqlalchemy.engine")
    engine_log.setLevel(max(engine_log.getEffectiveLevel(), logging.INFO))
    redactor = RedactingFilter()
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            if redactor not in handler.filters:
                handler.addFilter(redactor)
