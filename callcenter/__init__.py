"""A self-hosted, telephony-first contact center driving Asterisk over ARI and AMI."""

__version__ = "0.1.0"
