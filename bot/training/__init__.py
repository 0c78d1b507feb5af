"""Teaching the bot from real conversations (issue 13).

The database holds the training data (store.py), what admins decided in the NLU inbox
(inbox.py), the trained versions (registry.py) and the gate that keeps a worse model from going
live (gate.py); jobs.py runs one training at a time in the background (with Warga's own Rasa
server: a Rasa model and its sklearn twin) and live.py switches every process to the active
version without a restart (rasa_switch.py: the Rasa server loads a version's model once).
nlu/ never imports this package: it gets plain :class:`nlu.training_data.TrainingData` objects.
"""
