"""Custom actions of the assistant (rasa_sdk 3.6), one module per concern.

Actions never touch the database: every read and write goes through `backend.Backend`,
the one HTTP client for the API. Texts the customer sees are responses in domain.yml;
actions choose a response and fill in its `{placeholders}`.
"""
