"""Order routing to a broker: the Alpaca adapter and the local Alpaca-protocol trading server.

``python -m app.broker serve`` runs the local stand-in server (`app.broker.server`). This
``__init__`` imports nothing, so each submodule loads only what it needs.
"""
