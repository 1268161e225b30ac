"""The machinery ``app/pipeline.py`` runs its flow on: items prepared for the encoder and matching
(``prepare``), the encoder working ahead of matching (``encode_ahead``), the stored headlines matching
keeps in memory (``cache``), dedup checks going before ingest (``checks_first``), the rarity counts kept in
step with other replicas (``rarity_sync``) and the neighbours of an ingest step (``step_neighbours``)."""
