"""Flask blueprints, one per area."""
