"""Custom Rasa 3.6 components, loaded by the Rasa server (Python 3.10 environment).

Nothing here may import the gateway or api/: Rasa imports this package on its own.
"""
