"""Statistics as pure functions over numbers; no I/O."""
