"""Tests of what the Rasa server loads from bot/ (the NLU components, the launcher); they
run in the Rasa environment (`make test-rasa`)."""
