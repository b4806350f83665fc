"""Sensitive-word monitoring (敏感词监控): per-language phrase lists, a matcher for call
transcripts and chat messages, and alerts to supervisors. docs/sensitive-words.md."""
