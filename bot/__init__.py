"""seqbot: a chat bot whose language tasks share one Seq2Seq inference engine."""

__version__ = "0.1.0"
