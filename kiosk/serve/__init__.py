"""`kiosk serve` behind a gate: who may open a browser session of the kiosk app, from where, and how many at once.

textual-serve (`textual_serve.server.Server`) starts one `kiosk run` process per websocket and checks nothing. Here
`plan` decides everything once before anything listens (address, the origin browsers see, the key, TLS, the session
cap) and refuses unsafe choices with a sentence; `server` is textual-serve's `Server` with a middleware in front
(key exchanged for a cookie, websocket Origin pinned) and a session count around its websocket handler. The command
`kiosk.commands.serve` only wires the two together.
"""
