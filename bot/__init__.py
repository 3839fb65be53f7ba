"""The channel side: gateway, channels, widget, and the Rasa NLU components (bot/nlu/)."""
