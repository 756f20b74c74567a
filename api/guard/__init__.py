"""Request limits and admission control: what a client may send, how long it may take, how many
requests run at once, and what a request may wait for (README "Limits and overload")."""
