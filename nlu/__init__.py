"""NLU engines behind one protocol (:class:`nlu.base.NluEngine`)."""
