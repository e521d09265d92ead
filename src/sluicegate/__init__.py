"""sluicegate: AI diffusion governance made executable."""

__version__ = "0.1.0"
