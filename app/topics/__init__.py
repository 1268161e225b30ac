"""Topics over stories (pure core: numpy arrays and dataclasses in and out, no HTTP, no database).

- ``cluster.TopicModel``: kNN-graph smoothing + HDBSCAN over story vectors; ``fit`` / ``predict``.
- ``graph``: exact or PCA-assisted kNN (faiss) and the connected sparse distance graph.
- ``stable.match_ids``: topic ids that survive refits; merge / split / new / retired events.
- ``names.keywords``: class-based TF-IDF keywords, names kept whole.
- ``taxonomy.Taxonomy``: a readable label per topic from a configurable multilingual taxonomy.
- ``online``: assignment of new stories between refits from stored centroids.
- ``refit_job.compute``: a refit's pure part (story vectors and titles in; clusters, centroids, labels,
  keywords out), run in the scheduler's thread or, for a large window, in a child process.
- ``worker.run_in_child``: one call in a child interpreter (process I/O; not part of the pure core).
- ``service.TopicService``: the refit scheduler (store-facing; not part of the pure core).

Submodules are imported on use: this package's import stays free of faiss/sklearn.
"""
