"""openrft: open, self-hosted reinforcement fine-tuning with OpenAI's wire format."""

__version__ = "0.1.0"
