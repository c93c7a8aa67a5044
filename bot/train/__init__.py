"""``seqbot train``: train a Seq2Seq model on source/target pairs that the engine then serves.

torch is imported only by :mod:`bot.train.loop` so that ``seqbot --help`` stays fast.
"""
