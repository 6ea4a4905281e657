"""cdmo-workflow: stage-gate workflow engine for pharmaceutical CDMO programmes."""

__version__ = "0.1.0"
