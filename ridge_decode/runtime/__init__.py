"""The run machinery every stage stands on, none of it science.

``io`` (atomic writes, the ``.part`` resume protocol, JSON, versions), ``runs`` (one run per output folder: its lock
and atomic commit), ``layout`` (every path and name a run writes, and whether a step is done), ``machine`` (a full
disk, a read-only folder, no GPU, as messages), ``overlap`` (read ahead and write behind while a batch computes) and
``pinned`` (the pinned dependency set that ``versions`` records). Nothing here imports a stage. The predictions file
format is public, in ``ridge_decode.results``; the data manifest is in ``ridge_decode.sources.manifest``.
"""
