"""feeds.yaml and topics.yaml: the models (models.py), reading and validating the files (load.py)
and editing feeds.yaml (edit.py). Import each name from the module that defines it."""
