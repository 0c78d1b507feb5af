"""Channel connectors: one module per provider behind :class:`channels.base.Channel`."""
